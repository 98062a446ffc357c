"""The registries of tests/registry (SQLite, and PostgreSQL when it runs) serve the upload tests."""

from tests.registry.conftest import postgres_url, registry  # noqa: F401  (fixtures)
