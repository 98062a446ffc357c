"""Alembic environment of the FHIR store: run programmatically by `zorgbroker.fhir.schema`, with
its own version table so it shares a database with the registry but not its migration chain."""

from __future__ import annotations

from alembic import context

from zorgbroker.fhir.models import Base
from zorgbroker.fhir.schema import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Migraties draaien via zorgbroker (zorgbroker.fhir.schema), niet los.")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    version_table=VERSION_TABLE,
)
with context.begin_transaction():
    context.run_migrations()
