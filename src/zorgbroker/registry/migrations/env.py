"""Alembic environment: always run programmatically on a connection handed in by `migrate`."""

from __future__ import annotations

from zorgbroker.alembic_chain import run_migrations
from zorgbroker.registry.models import Base

run_migrations(Base.metadata, runner="zorgbroker.registry.migrate")
