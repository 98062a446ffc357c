"""API tokens of machine clients (`/api/v1`), stored as digests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=24), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_api_tokens_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["account_organisations.id"],
            name=op.f("fk_account_api_tokens_organisation_id_account_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_api_tokens")),
        sa.UniqueConstraint("public_id", name=op.f("uq_account_api_tokens_public_id")),
    )
    with op.batch_alter_table("account_api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_api_tokens_user_id"), ["user_id"])
        batch_op.create_index(
            batch_op.f("ix_account_api_tokens_organisation_id"), ["organisation_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("account_api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_api_tokens_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_account_api_tokens_user_id"))
    op.drop_table("account_api_tokens")
