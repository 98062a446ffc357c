"""Alembic environment: always run programmatically on a connection handed in by `migrate`."""

from __future__ import annotations

from alembic import context

from zorgbroker.registry.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Migraties draaien via zorgbroker (zorgbroker.registry.migrate), niet los.")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
