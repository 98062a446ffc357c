"""Alembic environment of the accounts tables: run on a connection handed in by `upgrade`."""

from __future__ import annotations

from alembic import context

from zorgbroker.accounts.database import VERSION_TABLE
from zorgbroker.accounts.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Migraties draaien via zorgbroker (zorgbroker.accounts.database), niet los.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,
    # Only our own tables: the registry's live in the same database.
    include_name=lambda name, type_, _parent: (
        type_ != "table" or bool(name and name.startswith("account_"))
    ),
)
with context.begin_transaction():
    context.run_migrations()
