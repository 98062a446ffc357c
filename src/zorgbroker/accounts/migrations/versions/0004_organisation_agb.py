"""An organisation's AGB code: the portal files its uploads under it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account_organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agb", sa.String(length=8), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_account_organisations_agb"), ["agb"])


def downgrade() -> None:
    with op.batch_alter_table("account_organisations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_account_organisations_agb"), type_="unique")
        batch_op.drop_column("agb")
