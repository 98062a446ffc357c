"""The registry's own tables: organisations, dataset versions, uploads, reports, access log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IN_FLIGHT = "mode = 'production' AND status IN ('queued', 'processing')"


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agb", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("kind", sa.String(40)),
        sa.Column("region", sa.String(2)),
        sa.Column("network", sa.String(40)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
        sa.UniqueConstraint("agb", name="uq_organisations_agb"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("registry", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dataset_versions"),
        sa.UniqueConstraint("dataset", "version", name="uq_dataset_versions_dataset_version"),
    )
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_format", sa.String(16)),
        sa.Column("stored_file", sa.String(500)),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("timings", sa.JSON()),
        sa.Column("records", sa.Integer()),
        sa.Column("accepted", sa.Integer()),
        sa.Column("rejected", sa.Integer()),
        sa.Column("file_rejected", sa.Boolean()),
        sa.Column("by_code", sa.JSON()),
        sa.Column("stored_new", sa.Integer()),
        sa.Column("stored_updated", sa.Integer()),
        sa.Column("stored_unchanged", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_uploads"),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name="fk_uploads_organisation_id_organisations",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_version_id"],
            ["dataset_versions.id"],
            name="fk_uploads_dataset_version_id_dataset_versions",
        ),
    )
    op.create_index(
        "uq_uploads_in_flight",
        "uploads",
        ["organisation_id", "dataset_version_id", "file_sha256"],
        unique=True,
        postgresql_where=sa.text(_IN_FLIGHT),
        sqlite_where=sa.text(_IN_FLIGHT),
    )
    op.create_index(
        "ix_uploads_organisation_submitted", "uploads", ["organisation_id", "submitted_at"]
    )
    op.create_table(
        "upload_reports",
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(16), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("upload_id", name="pk_upload_reports"),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["uploads.id"], name="fk_upload_reports_upload_id_uploads"
        ),
    )
    op.create_table(
        "row_ids",
        sa.Column("table_name", sa.String(100), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name="pk_row_ids"),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("on_behalf_of", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(64)),
        sa.Column("subject", sa.String(200)),
        sa.Column("upload_id", sa.Integer()),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["uploads.id"], name="fk_access_log_upload_id_uploads"
        ),
    )
    op.create_index("ix_access_log_subject", "access_log", ["subject"])
    op.create_index("ix_access_log_at", "access_log", ["at"])
    _access_log_append_only()


def _access_log_append_only() -> None:
    """An access log that can be edited proves nothing: refuse UPDATE and DELETE on it."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'access_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log "
            "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER access_log_no_{event.lower()} BEFORE {event} ON access_log "
                "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER access_log_append_only ON access_log")
        op.execute("DROP FUNCTION access_log_append_only()")
    op.drop_table("access_log")
    op.drop_table("row_ids")
    op.drop_table("upload_reports")
    op.drop_index("ix_uploads_organisation_submitted", table_name="uploads")
    op.drop_index("uq_uploads_in_flight", table_name="uploads")
    op.drop_table("uploads")
    op.drop_table("dataset_versions")
    op.drop_table("organisations")
