"""The registry's own tables (organisations, dataset versions, uploads, reports, access log).

These evolve with the code and are managed by the Alembic migrations in `migrations/`. The tables
that hold each dataset's accepted records are not here: they follow the dataset specifications
(see `data_tables`), so a new registry needs a YAML file, not a migration.

Messages are kept as the report itself (gzipped contract JSON in `upload_reports`), not as a row
per message: a report is written once, never changed, and always read whole (`zorgbroker report`,
the portal's download), and an upload can carry half a million messages that a per-message table
would have to insert inside the import's transaction for no query that needs them. The counts a
listing or a dashboard needs are columns of `uploads` (`by_code` keeps the count per code).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Statuses an upload passes through; "failed" may be retried.
QUEUED, PROCESSING, DONE, FAILED = "queued", "processing", "done", "failed"
IN_FLIGHT = (QUEUED, PROCESSING)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agb: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    #: e.g. "ziekenhuis", "praktijk".
    kind: Mapped[str | None] = mapped_column(String(40))
    #: Province code (GR, FR, ... LI) for the benchmark's regional comparison.
    region: Mapped[str | None] = mapped_column(String(2))
    #: The network (partnership of practices) the organisation belongs to.
    network: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    #: The registry that receives the dataset (the column is named "registry").
    registry_name: Mapped[str] = mapped_column("registry", String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (
        # One production upload of one file per organisation and dataset version in flight:
        # a second submit of the same file joins the first instead of importing it again.
        Index(
            "uq_uploads_in_flight",
            "organisation_id",
            "dataset_version_id",
            "file_sha256",
            unique=True,
            postgresql_where=text("mode = 'production' AND status IN ('queued', 'processing')"),
            sqlite_where=text("mode = 'production' AND status IN ('queued', 'processing')"),
        ),
        Index("ix_uploads_organisation_submitted", "organisation_id", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"))
    mode: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default=QUEUED)
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_bytes: Mapped[int] = mapped_column(BigInteger)
    file_format: Mapped[str | None] = mapped_column(String(16))
    #: Where the uploaded file waits under ZORGBROKER_HOME (relative); None once processed.
    stored_file: Mapped[str | None] = mapped_column(String(500))
    #: The date the checks measure deadlines against, fixed at submission so a retry agrees.
    reference_date: Mapped[dt.date] = mapped_column(Date)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the notification went out (or was parked to go out): it is sent once.
    notified_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Seconds per phase of the last attempt: check, compare, import.
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    records: Mapped[int | None] = mapped_column(Integer)
    accepted: Mapped[int | None] = mapped_column(Integer)
    rejected: Mapped[int | None] = mapped_column(Integer)
    file_rejected: Mapped[bool | None] = mapped_column(Boolean)
    by_code: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stored_new: Mapped[int | None] = mapped_column(Integer)
    stored_updated: Mapped[int | None] = mapped_column(Integer)
    stored_unchanged: Mapped[int | None] = mapped_column(Integer)
    #: Why the last attempt failed, in Dutch; never file content.
    error: Mapped[str | None] = mapped_column(Text)
    #: The stage processing is in now (`zorgbroker.uploads.progress`), and since when.
    stage: Mapped[str | None] = mapped_column(String(20))
    stage_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: The stages of the last attempt so far: stage -> {"seconds": ..., "rows": ...}.
    stages: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class UploadReport(Base):
    __tablename__ = "upload_reports"

    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id"), primary_key=True)
    #: "json+gzip": the contract's JSON, gzip-compressed.
    encoding: Mapped[str] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    #: The messages alone as Parquet (MESSAGE_SCHEMA), which the report page filters and pages
    #: quickly; None for reports stored before it existed (the JSON body is read then).
    messages_parquet: Mapped[bytes | None] = mapped_column(LargeBinary)


class RowIds(Base):
    """The highest row id ever given out per dataset table: ids are never reused, so a row id
    in a log or a report keeps meaning one version of one record."""

    __tablename__ = "row_ids"

    table_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)


class AccessLogEntry(Base):
    """NEN 7513: who touched which pseudonymised person's data, when, on whose behalf, and how."""

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_subject", "subject"),
        Index("ix_access_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: The user or service account that acted.
    actor: Mapped[str] = mapped_column(String(200))
    #: The organisation or role the actor acted for (e.g. a hospital in a recall).
    on_behalf_of: Mapped[str] = mapped_column(String(200))
    #: What was done, e.g. "import", "implantaat-opvraging".
    action: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str | None] = mapped_column(String(64))
    #: The pseudonym of the person whose data were touched; None for an event over a whole
    #: upload (its persons are the records that carry its upload id).
    subject: Mapped[str | None] = mapped_column(String(200))
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"))
    #: What was asked or done, without identifying values (e.g. "udi_di=00614141999996").
    detail: Mapped[str | None] = mapped_column(Text)
