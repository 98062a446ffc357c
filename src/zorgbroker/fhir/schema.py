"""The FHIR store's schema: its own Alembic chain and version table in the platform's database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from zorgbroker.alembic_chain import AlembicChain
from zorgbroker.registry.database import lock_for_transaction, write_transaction

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Alembic's version table for this chain; the registry keeps the default `alembic_version`.
VERSION_TABLE = "zorgbroker_fhir_alembic"
CHAIN = AlembicChain(MIGRATIONS, VERSION_TABLE)


def ensure_schema(engine: Engine) -> None:
    """Bring the FHIR tables to the newest revision; cheap when they are there already."""
    head = CHAIN.head()
    with engine.connect() as conn:
        if CHAIN.current(conn) == head:
            return
    with write_transaction(engine) as conn:
        lock_for_transaction(conn, "fhir-schema")
        if CHAIN.current(conn) != head:
            CHAIN.upgrade(conn)
