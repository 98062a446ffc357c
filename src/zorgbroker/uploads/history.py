"""The upload history as `zorgbroker uploads` and `zorgbroker report` read it: uploads and their
stored reports, nothing else.

Kept apart from the upload service so that reading the history needs only SQLAlchemy and the
registry's tables: neither the check engine, nor pseudonymisation, nor mail, nor Polars (a stored
report, once found, is turned back into a `Report`, which does load Polars).
"""

from __future__ import annotations

import builtins
import datetime as dt
import gzip
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from zorgbroker.registry.models import DatasetVersion, Organisation, Upload, UploadReport
from zorgbroker.uploads.errors import NoReport, UploadNotFound
from zorgbroker.uploads.models import FAILED, PROCESSING, QUEUED, STOPPED, UploadInfo

if TYPE_CHECKING:
    import polars as pl

    from zorgbroker.intake.api import Report

#: Why an upload has no report, by status.
NO_REPORT = {
    QUEUED: "staat nog in de wachtrij",
    PROCESSING: "wordt nog verwerkt",
    FAILED: "is mislukt",
    STOPPED: "is gestopt voordat ze klaar was",
}


def info_query() -> Any:
    return (
        select(Upload, Organisation.agb, DatasetVersion.dataset, DatasetVersion.version)
        .join(Organisation, Organisation.id == Upload.organisation_id)
        .join(DatasetVersion, DatasetVersion.id == Upload.dataset_version_id)
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def upload_info(row: Any) -> UploadInfo:
    from zorgbroker.intake.api import Stored

    upload: Upload = row[0]
    stored = None
    if upload.stored_new is not None:
        stored = Stored(upload.stored_new, upload.stored_updated or 0, upload.stored_unchanged or 0)
    return UploadInfo(
        id=upload.id,
        organisation=row[1],
        dataset=row[2],
        dataset_version=row[3],
        mode=upload.mode,
        status=upload.status,
        file_name=upload.file_name,
        file_sha256=upload.file_sha256,
        file_bytes=upload.file_bytes,
        submitted_at=_aware(upload.submitted_at),
        finished_at=_aware(upload.finished_at) if upload.finished_at else None,
        records=upload.records,
        accepted=upload.accepted,
        rejected=upload.rejected,
        file_rejected=upload.file_rejected,
        stored=stored,
        uploaded_by=upload.uploaded_by,
        error=upload.error,
        stored_file=upload.stored_file,
        reference_date=upload.reference_date,
        started_at=_aware(upload.started_at) if upload.started_at else None,
        stage=upload.stage,
        stage_started_at=_aware(upload.stage_started_at) if upload.stage_started_at else None,
        stages=upload.stages,
    )


def _code_texts(dataset: str) -> tuple[dict[str, str], bool | None]:
    from zorgbroker.intake.api import SpecError, load_dataset

    try:
        spec = load_dataset(dataset)
    except (SpecError, KeyError):
        return {}, None
    return {code: text.nl for code, text in spec.messages.items()}, spec.multi_table


def read_report(conn: Connection, upload_id: int, dataset: str) -> Report | None:
    body = conn.execute(
        select(UploadReport.body).where(UploadReport.upload_id == upload_id)
    ).scalar_one_or_none()
    if body is None:
        return None
    return report_from_document(json.loads(gzip.decompress(body)), dataset)


def report_from_document(document: dict[str, Any], dataset: str) -> Report:
    """A report in the contract's JSON turned back into a `Report`, with the dataset's Dutch
    explanations of its codes (as stored, or as the API hands it out)."""
    from zorgbroker.intake.api import report_from_json

    texts, multi = _code_texts(dataset)
    codes = {m["code"] for m in document.get("messages", [])}
    return report_from_json(
        document, code_texts={c: texts.get(c, "") for c in sorted(codes)}, multi_table=multi
    )


class UploadHistory:
    """Reads uploads and their stored reports from the registry's engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, upload_id: int) -> UploadInfo | None:
        with Session(self._engine) as session:
            row = session.execute(info_query().where(Upload.id == upload_id)).first()
            return None if row is None else upload_info(row)

    def list(
        self, *, organisation: str | None = None, limit: int | None = None
    ) -> builtins.list[UploadInfo]:
        """Uploads, newest first."""
        query = info_query().order_by(Upload.id.desc())
        if organisation is not None:
            query = query.where(Organisation.agb == organisation)
        if limit is not None:
            query = query.limit(limit)
        with Session(self._engine) as session:
            return [upload_info(row) for row in session.execute(query).all()]

    def organisations(self) -> builtins.list[str]:
        """The AGB codes of the organisations that uploaded anything, sorted."""
        query = (
            select(Organisation.agb)
            .join(Upload, Upload.organisation_id == Organisation.id)
            .distinct()
            .order_by(Organisation.agb)
        )
        with self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def report(self, upload_id: int) -> Report:
        """The stored report of a finished upload; `UploadNotFound`, or `NoReport` saying why
        there is none (yet)."""
        info = self.get(upload_id)
        if info is None:
            raise UploadNotFound(upload_id)
        with self._engine.connect() as conn:
            report = read_report(conn, upload_id, info.dataset)
        if report is None:
            status = NO_REPORT.get(info.status, f"heeft status {info.status}")
            extra = f": {info.error}" if info.error else ""
            raise NoReport(upload_id, info.status, f"aanlevering {upload_id} {status}{extra}")
        return report

    def messages(self, upload_id: int) -> pl.DataFrame:
        """The messages of a finished upload's report (MESSAGE_SCHEMA, report order), read from
        their Parquet copy, or from the JSON report when it has none; exceptions as `report`."""
        import io

        import polars as pl

        with self._engine.connect() as conn:
            parquet = conn.execute(
                select(UploadReport.messages_parquet).where(UploadReport.upload_id == upload_id)
            ).scalar_one_or_none()
        if parquet is not None:
            return pl.read_parquet(io.BytesIO(parquet))
        return self.report(upload_id).messages
