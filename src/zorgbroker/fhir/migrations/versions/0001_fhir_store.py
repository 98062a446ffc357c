"""FHIR store: resources, search index, access log.

Revision ID: fhir0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fhir0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_resource",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=True),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.UniqueConstraint("resource_type", "resource_id", name="uq_fhir_resource_type_id"),
    )
    op.create_index(
        "ix_fhir_resource_patient_type", "fhir_resource", ["patient_id", "resource_type"]
    )
    op.create_table(
        "fhir_search_index",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "resource_pk",
            sa.Integer(),
            sa.ForeignKey("fhir_resource.pk", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(255), nullable=True),
        sa.Column("value", sa.String(255), nullable=True),
        sa.Column("low", sa.String(32), nullable=True),
        sa.Column("high", sa.String(32), nullable=True),
    )
    op.create_index(
        "ix_fhir_search_resource", "fhir_search_index", ["resource_pk", "param", "value"]
    )
    op.create_table(
        "fhir_access_log",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("correlation_id", sa.String(64), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
    )
    op.create_index("ix_fhir_access_log_patient_at", "fhir_access_log", ["patient_id", "at"])


def downgrade() -> None:
    op.drop_table("fhir_access_log")
    op.drop_table("fhir_search_index")
    op.drop_table("fhir_resource")
