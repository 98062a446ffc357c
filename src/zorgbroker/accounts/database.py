"""The accounts schema: its own Alembic migrations and version table, in the registry's database.

The accounts tables carry an `account_` prefix and their own version table, so the registry's
migrations and these never touch each other's tables or revisions.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from zorgbroker.alembic_chain import AlembicChain

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "zorgbroker_accounts_alembic"
CHAIN = AlembicChain(MIGRATIONS, VERSION_TABLE)


def head() -> str | None:
    return CHAIN.head()


def current(conn: Connection) -> str | None:
    return CHAIN.current(conn)


def upgrade(engine: Engine) -> None:
    """Bring the accounts tables to the newest schema (in one transaction)."""
    with engine.begin() as conn:
        if CHAIN.current(conn) != CHAIN.head():
            CHAIN.upgrade(conn)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
