"""Counters of the rate limits in the database, shared by every portal process.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 16:57:40.865555
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_rate_limits",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_account_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("account_rate_limits")
