"""Pending e-mail address changes: a one-time link to the new address.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 18:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_email_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("new_email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["account_users.id"],
            name=op.f("fk_account_email_changes_user_id_account_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_email_changes")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_email_changes_token_hash")),
    )
    with op.batch_alter_table("account_email_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_email_changes_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_email_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_email_changes_user_id"))
    op.drop_table("account_email_changes")
