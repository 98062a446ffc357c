"""Alembic environment of the accounts tables: run on a connection handed in by `upgrade`."""

from __future__ import annotations

from zorgbroker.accounts.database import VERSION_TABLE
from zorgbroker.accounts.models import Base
from zorgbroker.alembic_chain import run_migrations

run_migrations(
    Base.metadata,
    runner="zorgbroker.accounts.database",
    version_table=VERSION_TABLE,
    # Only our own tables: the registry's live in the same database.
    include_name=lambda name, type_, _parent: (
        type_ != "table" or bool(name and name.startswith("account_"))
    ),
)
