"""The FHIR store's schema: its own Alembic chain and version table in the platform's database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from zorgbroker.registry.database import lock_for_transaction, write_transaction

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Alembic's version table for this chain; the registry keeps the default `alembic_version`.
VERSION_TABLE = "zorgbroker_fhir_alembic"


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def _current(conn: Connection) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def ensure_schema(engine: Engine) -> None:
    """Bring the FHIR tables to the newest revision; cheap when they are there already."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with engine.connect() as conn:
        if _current(conn) == head:
            return
    with write_transaction(engine) as conn:
        lock_for_transaction(conn, "fhir-schema")
        if _current(conn) != head:
            command.upgrade(_config(conn), "head")
