"""MedMij authorisation server: patient accounts, client secrets, codes, tokens; the access
log's scope.

Revision ID: fhir0002
Revises: fhir0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "fhir0002"
down_revision = "fhir0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("fhir_access_log") as batch:
        batch.add_column(sa.Column("scope", sa.String(255), nullable=True))
    op.create_table(
        "fhir_patient_account",
        sa.Column("user_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("patient_id", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "oauth_client_secret",
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "oauth_authorization_code",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "oauth_access_token",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("code_pk", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_oauth_access_token_code_pk", "oauth_access_token", ["code_pk"])


def downgrade() -> None:
    op.drop_table("oauth_access_token")
    op.drop_table("oauth_authorization_code")
    op.drop_table("oauth_client_secret")
    op.drop_table("fhir_patient_account")
    with op.batch_alter_table("fhir_access_log") as batch:
        batch.drop_column("scope")
