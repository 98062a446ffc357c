"""Alembic environment of the FHIR store: run programmatically by `zorgbroker.fhir.schema`, with
its own version table so it shares a database with the registry but not its migration chain."""

from __future__ import annotations

from zorgbroker.alembic_chain import run_migrations
from zorgbroker.fhir.models import Base
from zorgbroker.fhir.schema import VERSION_TABLE

run_migrations(Base.metadata, runner="zorgbroker.fhir.schema", version_table=VERSION_TABLE)
