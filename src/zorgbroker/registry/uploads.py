"""Uploads: taking a file in, running it through the whole intake, and the history.

`submit_upload` stores the file under ZORGBROKER_HOME and records a queued upload;
`process_upload` runs it through pseudonymisation, the checks, and (production) the comparison
and import, and is safe to run again for the same upload at any time:

- a finished upload returns its stored report and changes nothing;
- an upload whose process died (status still "processing") or failed is simply processed again:
  the import is one transaction, so a dead attempt left nothing behind;
- two processes on the same upload at once are serialised by the dataset lock, and the second
  finds it finished.

A production import holds its dataset's lock (PostgreSQL advisory lock, or SQLite's write lock)
from the moment it reads the held data until it commits, so no two imports of one dataset ever
compare against stale data. The expensive part, checks and pseudonymisation, runs before, unlocked.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from zorgbroker.intake.api import (
    CheckOptions,
    DatasetSpec,
    Mode,
    Pseudonymise,
    Report,
    SpecError,
    Stored,
    check_upload,
    load_dataset,
    report_from_json,
    write_json,
)
from zorgbroker.logging import get_logger
from zorgbroker.registry.crash_point import pause_after_batch
from zorgbroker.registry.database import lock_for_transaction, write_transaction
from zorgbroker.registry.importer import import_records
from zorgbroker.registry.layout import layout_for
from zorgbroker.registry.models import (
    DONE,
    FAILED,
    IN_FLIGHT,
    PROCESSING,
    QUEUED,
    AccessLogEntry,
    DatasetVersion,
    Organisation,
    Upload,
    UploadReport,
    utcnow,
)
from zorgbroker.registry.records import RecordsError, stored_frames
from zorgbroker.registry.registry_db import ensure_dataset_version, open_registry
from zorgbroker.registry.report_merge import merge
from zorgbroker.settings import Settings

if TYPE_CHECKING:
    from zorgbroker.pseudonymisation.pipeline import Pseudonymiser

log = get_logger(__name__)

REPORT_ENCODING = "json+gzip"


class UploadError(Exception):
    """The upload cannot be taken in as asked (a usage error); a Dutch message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProcessingFailed(Exception):
    """Processing stopped; the upload is marked failed and can be processed again."""

    def __init__(self, upload_id: int, message: str) -> None:
        super().__init__(message)
        self.upload_id = upload_id
        self.message = message


@dataclass(frozen=True)
class UploadInfo:
    id: int
    organisation: str
    dataset: str
    dataset_version: str
    mode: str
    status: str
    file_name: str
    file_sha256: str
    file_bytes: int
    submitted_at: dt.datetime
    finished_at: dt.datetime | None
    records: int | None
    accepted: int | None
    rejected: int | None
    file_rejected: bool | None
    stored: Stored | None
    uploaded_by: str
    error: str | None
    stored_file: str | None
    reference_date: dt.date

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation": self.organisation,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "mode": self.mode,
            "status": self.status,
            "file": self.file_name,
            "submitted_at": self.submitted_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "records": self.records,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "file_rejected": self.file_rejected,
            "stored": None
            if self.stored is None
            else {
                "new": self.stored.new,
                "updated": self.stored.updated,
                "unchanged": self.stored.unchanged,
            },
            "uploaded_by": self.uploaded_by,
            "error": self.error,
        }


def check_agb(value: str) -> str:
    if not (len(value) == 8 and value.isdigit()):
        raise UploadError(f"'{value}' is geen AGB-code van 8 cijfers")
    return value


def _dataset(name: str) -> DatasetSpec:
    try:
        return load_dataset(name)
    except SpecError as exc:
        raise UploadError(str(exc)) from None
    except KeyError:
        raise UploadError(f"onbekende dataset '{name}'; zie 'zorgbroker datasets'") from None


# --- taking a file in ----------------------------------------------------------------------------


def _copy_in(source: Path, folder: Path) -> tuple[Path, str, int]:
    """Copy the upload into `folder` (owner-only), hashing on the way."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    suffix = (
        source.suffix.lower() if source.suffix[1:].isalnum() and len(source.suffix) <= 6 else ""
    )
    target = folder / f"{secrets.token_hex(12)}{suffix}"
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return target, digest.hexdigest(), size


def ensure_organisation(conn: Connection, agb: str) -> int:
    found = conn.execute(
        select(Organisation.id).where(Organisation.agb == agb)
    ).scalar_one_or_none()
    if found is not None:
        return found
    result = conn.execute(insert(Organisation).values(agb=agb, created_at=utcnow()))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _in_flight(conn: Connection, organisation_id: int, version_id: int, sha256: str) -> int | None:
    return conn.execute(
        select(Upload.id).where(
            Upload.organisation_id == organisation_id,
            Upload.dataset_version_id == version_id,
            Upload.file_sha256 == sha256,
            Upload.mode == "production",
            Upload.status.in_(IN_FLIGHT),
        )
    ).scalar_one_or_none()


def submit_upload(
    file: Path,
    *,
    dataset: str,
    organisation: str,
    mode: Mode,
    settings: Settings,
    today: dt.date | None = None,
    uploaded_by: str | None = None,
) -> int:
    """Record a queued upload of `file` and keep a copy until it is processed; its id.

    A production upload of a file that is already queued or being processed for the same
    organisation and dataset version returns that upload instead of a second one.
    """
    check_agb(organisation)
    if mode not in ("test", "production"):
        raise UploadError(f"onbekende modus '{mode}'; kies test of production")
    if not file.is_file():
        raise UploadError(f"bestand '{file}' bestaat niet of is geen bestand")
    spec = _dataset(dataset)
    engine = open_registry(settings)
    copy, sha256, size = _copy_in(file, settings.uploads_dir)
    values = {
        "mode": mode,
        "status": QUEUED,
        "file_name": file.name[:255],
        "file_sha256": sha256,
        "file_bytes": size,
        "stored_file": str(copy.relative_to(settings.home)),
        "reference_date": today or dt.date.today(),
        "uploaded_by": (uploaded_by or settings.actor)[:200],
        "submitted_at": utcnow(),
        "attempts": 0,
    }
    try:
        with write_transaction(engine) as conn:
            organisation_id = ensure_organisation(conn, organisation)
            version_id = ensure_dataset_version(conn, spec)
            if mode == "production":
                existing = _in_flight(conn, organisation_id, version_id, sha256)
                if existing is not None:
                    copy.unlink(missing_ok=True)
                    log.info("upload.joined", upload=existing)
                    return existing
            result = conn.execute(
                insert(Upload).values(
                    organisation_id=organisation_id, dataset_version_id=version_id, **values
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            upload_id = int(key[0])
    except IntegrityError:
        # Another submit of the same file got in between our check and our insert.
        copy.unlink(missing_ok=True)
        with engine.connect() as conn:
            orgs = select(Organisation.id).where(Organisation.agb == organisation).scalar_subquery()
            versions = (
                select(DatasetVersion.id)
                .where(
                    DatasetVersion.dataset == spec.dataset, DatasetVersion.version == spec.version
                )
                .scalar_subquery()
            )
            existing = conn.execute(
                select(Upload.id).where(
                    Upload.organisation_id == orgs,
                    Upload.dataset_version_id == versions,
                    Upload.file_sha256 == sha256,
                    Upload.mode == "production",
                    Upload.status.in_(IN_FLIGHT),
                )
            ).scalar_one_or_none()
        if existing is None:
            raise
        return existing
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    log.info("upload.submitted", upload=upload_id, dataset=spec.dataset, mode=mode, bytes=size)
    return upload_id


# --- reading the history -------------------------------------------------------------------------


def _info_query() -> Any:
    return (
        select(Upload, Organisation.agb, DatasetVersion.dataset, DatasetVersion.version)
        .join(Organisation, Organisation.id == Upload.organisation_id)
        .join(DatasetVersion, DatasetVersion.id == Upload.dataset_version_id)
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _info(row: Any) -> UploadInfo:
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
    )


def get_upload(engine: Engine, upload_id: int) -> UploadInfo | None:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        row = session.execute(_info_query().where(Upload.id == upload_id)).first()
        return None if row is None else _info(row)


def list_uploads(
    settings: Settings, *, organisation: str | None = None, limit: int | None = None
) -> list[UploadInfo]:
    """Uploads, newest first."""
    from sqlalchemy.orm import Session

    engine = open_registry(settings)
    query = _info_query().order_by(Upload.id.desc())
    if organisation is not None:
        query = query.where(Organisation.agb == organisation)
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        return [_info(row) for row in session.execute(query).all()]


def _code_texts(dataset: str) -> tuple[dict[str, str], bool | None]:
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
    document = json.loads(gzip.decompress(body))
    texts, multi = _code_texts(dataset)
    codes = {m["code"] for m in document.get("messages", [])}
    return report_from_json(
        document, code_texts={c: texts.get(c, "") for c in sorted(codes)}, multi_table=multi
    )


def load_report(settings: Settings, upload_id: int) -> Report:
    """The stored report of a finished upload."""
    engine = open_registry(settings)
    info = get_upload(engine, upload_id)
    if info is None:
        raise UploadError(f"aanlevering {upload_id} bestaat niet")
    with engine.connect() as conn:
        report = read_report(conn, upload_id, info.dataset)
    if report is None:
        status = {
            QUEUED: "staat nog in de wachtrij",
            PROCESSING: "wordt nog verwerkt",
            FAILED: "is mislukt",
        }.get(info.status, f"heeft status {info.status}")
        extra = f": {info.error}" if info.error else ""
        raise UploadError(f"aanlevering {upload_id} {status}{extra}")
    return report


# --- processing ----------------------------------------------------------------------------------


def _report_body(report: Report) -> bytes:
    buffer = io.StringIO()
    write_json(report, buffer)
    return gzip.compress(buffer.getvalue().encode("utf-8"), compresslevel=6)


def _finish(conn: Connection, upload_id: int, report: Report, timings: dict[str, float]) -> None:
    stored = report.stored
    conn.execute(
        update(Upload)
        .where(Upload.id == upload_id)
        .values(
            status=DONE,
            finished_at=utcnow(),
            file_format=report.file.format,
            records=report.records,
            accepted=report.accepted,
            rejected=report.records - report.accepted,
            file_rejected=report.file_rejected,
            by_code=report.by_code(),
            stored_new=stored.new if stored else None,
            stored_updated=stored.updated if stored else None,
            stored_unchanged=stored.unchanged if stored else None,
            timings={k: round(v, 3) for k, v in timings.items()},
            stored_file=None,
            error=None,
        )
    )
    conn.execute(
        insert(UploadReport).values(
            upload_id=upload_id, encoding=REPORT_ENCODING, body=_report_body(report)
        )
    )


def _status(conn: Connection, upload_id: int) -> str | None:
    return conn.execute(select(Upload.status).where(Upload.id == upload_id)).scalar_one_or_none()


def _mark(engine: Engine, upload_id: int, **values: Any) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            update(Upload).where(Upload.id == upload_id, Upload.status != DONE).values(**values)
        )


def _remove_file(settings: Settings, stored_file: str | None) -> None:
    if stored_file:
        (settings.home / stored_file).unlink(missing_ok=True)


def _pseudonymise_for(
    spec: DatasetSpec, mode: Mode, organisation: str, settings: Settings
) -> tuple[Pseudonymiser, Pseudonymise, dict[str, str]]:
    """The pseudonymiser, the engine's hook into it, and the key fingerprints the report
    shows."""
    from zorgbroker.pseudonymisation.pipeline import Pseudonymiser

    pseudonymiser = Pseudonymiser.for_mode(
        mode, registry=spec.registry, source=organisation, home=settings.home
    )
    # A BSN goes the BSN way (eleven-test, sealing for a re-identifiable registry); any other
    # identifying text (a therapist's surname) is pseudonymised under its field's label.
    bsn_fields = {(t.name, f.name) for t in spec.tables for f in t.fields if f.normalise == "bsn"}

    def pseudonymise(table: str, field: str, values: pl.Series) -> pl.Series:
        if (table, field) in bsn_fields:
            return pseudonymiser.pseudonymise(values)
        return pseudonymiser.pseudonymise_text(values, label=field)

    return pseudonymiser, pseudonymise, {k: str(v) for k, v in pseudonymiser.fingerprints().items()}


def _failure_text(exc: BaseException) -> str:
    """What a user reads about a failure: never the exception's text, which may quote data."""
    from zorgbroker.pseudonymisation.errors import TTPError

    if isinstance(exc, RecordsError | UploadError):
        return exc.args[0] if exc.args else type(exc).__name__
    if isinstance(exc, TTPError):
        return f"Pseudonimisering mislukt: {exc.message}"
    if isinstance(exc, SQLAlchemyError):
        return (
            "De registratiedatabase gaf een fout "
            f"({type(exc).__name__}); de aanlevering kan opnieuw worden verwerkt."
        )
    return f"Verwerking mislukt ({type(exc).__name__}); de aanlevering kan opnieuw worden verwerkt."


def process_upload(upload_id: int, *, settings: Settings) -> Report:
    """Run one stored upload through the whole intake and return its report (idempotent)."""
    engine = open_registry(settings)
    info = get_upload(engine, upload_id)
    if info is None:
        raise UploadError(f"aanlevering {upload_id} bestaat niet")
    if info.status == DONE:
        return load_report(settings, upload_id)
    with write_transaction(engine) as conn:
        conn.execute(
            update(Upload)
            .where(Upload.id == upload_id, Upload.status != DONE)
            .values(
                status=PROCESSING, started_at=utcnow(), attempts=Upload.attempts + 1, error=None
            )
        )
    try:
        return _process(engine, info, settings)
    except ProcessingFailed:
        raise
    except Exception as exc:
        message = _failure_text(exc)
        _mark(engine, upload_id, status=FAILED, finished_at=utcnow(), error=message)
        log.warning("upload.failed", upload=upload_id, error=type(exc).__name__)
        raise ProcessingFailed(upload_id, message) from exc


def _process(engine: Engine, info: UploadInfo, settings: Settings) -> Report:
    upload_id = info.id
    spec = _dataset(info.dataset)
    if spec.version != info.dataset_version:
        raise UploadError(
            f"De aanlevering is gedaan voor versie {info.dataset_version} van {info.dataset}, "
            f"maar deze installatie kent versie {spec.version}; lever het bestand opnieuw aan."
        )
    path = settings.home / info.stored_file if info.stored_file else None
    if path is None or not path.is_file():
        with engine.connect() as conn:
            if _status(conn, upload_id) == DONE:
                return load_report(settings, upload_id)
        raise UploadError(
            "Het aangeleverde bestand is niet meer beschikbaar; lever het opnieuw aan."
        )
    mode: Mode = "production" if info.mode == "production" else "test"
    pseudonymiser, pseudonymise, fingerprints = _pseudonymise_for(
        spec, mode, info.organisation, settings
    )
    # The embedded TTP writes its re-identification store while the registry compares and
    # imports; `settle` waits for it, and every way out of this block waits for it too.
    with pseudonymiser.storing_in_background() as settle:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        options = CheckOptions(
            today=info.reference_date,
            organisation=info.organisation,
            mode=mode,
            collect_accepted=True,
            pseudonymise=pseudonymise,
        )
        outcome = check_upload(path, spec, options, display_name=info.file_name)
        timings["check"] = time.perf_counter() - started
        # A rejected production file stores nothing; an import says what it stored (`merge`).
        nothing_stored = Stored() if mode == "production" and outcome.report.file_rejected else None
        report = outcome.report.with_registry_result(
            fingerprints=fingerprints, stored=nothing_stored
        )
        if mode == "test" or report.file_rejected:
            settle()
            with write_transaction(engine) as conn:
                if _status(conn, upload_id) == DONE:
                    return load_report(settings, upload_id)
                _finish(conn, upload_id, report, timings)
            _remove_file(settings, info.stored_file)
            _log_done(upload_id, report, timings)
            return report
        frames = stored_frames(layout_for(spec.dataset), outcome.accepted)
        del outcome
        with write_transaction(engine) as conn:
            lock_for_transaction(conn, f"dataset:{spec.dataset}")
            imported = None
            if _status(conn, upload_id) != DONE:  # else another process finished it meanwhile
                imported = _import(conn, info, spec, frames, report, timings, settings)
            # Nothing is committed that the TTP could not re-identify: its store comes first.
            settle()
    if imported is None:
        return load_report(settings, upload_id)
    _remove_file(settings, info.stored_file)
    _log_done(upload_id, imported, timings)
    return imported


def _import(
    conn: Connection,
    info: UploadInfo,
    spec: DatasetSpec,
    frames: dict[str, pl.DataFrame],
    report: Report,
    timings: dict[str, float],
    settings: Settings,
) -> Report:
    """Compare, write, and finish the upload, all in the caller's (locked) transaction."""
    result = import_records(
        conn,
        layout_for(spec.dataset),
        frames,
        upload_id=info.id,
        today=info.reference_date,
        organisation=info.organisation,
        batch_rows=settings.import_batch_rows,
        segment_rows=settings.import_segment_rows,
        after_batch=pause_after_batch,
    )
    timings.update(result.timings)
    found = result.outcome
    report = merge(report, spec, found.messages, found.rejected.len(), found.stored)
    _finish(conn, info.id, report, timings)
    conn.execute(
        insert(AccessLogEntry).values(
            at=utcnow(),
            actor=info.uploaded_by,
            on_behalf_of=info.organisation,
            action="import",
            dataset=spec.dataset,
            subject=None,
            upload_id=info.id,
            detail=(
                f"nieuw={found.stored.new} gewijzigd={found.stored.updated} "
                f"ongewijzigd={found.stored.unchanged}"
            ),
        )
    )
    return report


def _log_done(upload_id: int, report: Report, timings: dict[str, float]) -> None:
    stored = report.stored
    log.info(
        "upload.done",
        upload=upload_id,
        records=report.records,
        accepted=report.accepted,
        file_rejected=report.file_rejected,
        messages=report.messages.height,
        new=stored.new if stored else None,
        updated=stored.updated if stored else None,
        unchanged=stored.unchanged if stored else None,
        seconds={k: round(v, 3) for k, v in timings.items()},
    )


__all__ = [
    "ProcessingFailed",
    "UploadError",
    "UploadInfo",
    "list_uploads",
    "load_report",
    "process_upload",
    "submit_upload",
]
