"""An upload's live progress (the stage it is in, since when, and the stages done with their
seconds and rows), and its report's messages as Parquet, so that the portal's report page
filters and pages them without parsing the whole JSON report.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
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
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("stage", sa.String(20), nullable=True))
        batch.add_column(sa.Column("stage_started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stages", sa.JSON(), nullable=True))
    with op.batch_alter_table("upload_reports") as batch:
        batch.add_column(sa.Column("messages_parquet", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("upload_reports") as batch:
        batch.drop_column("messages_parquet")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("stages")
        batch.drop_column("stage_started_at")
        batch.drop_column("stage")
