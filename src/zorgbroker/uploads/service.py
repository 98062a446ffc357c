"""The upload service: take a file in, run it through the whole intake, keep the history.

`UploadService` is handed its collaborators (the registry's engine, a file store, a factory of
stage-1 relays, the check, a dispatcher, a mailer, a clock) and offers `submit`, `process`,
`get`, `list`, `report` and `cancel`, and for the portal's pages `messages` (a report's messages
from their Parquet copy), `organisations` and `record_access` (the NEN 7513 access log).
While an upload is processed, its stage is kept on its row (`zorgbroker.uploads.progress`).
`zorgbroker.composition` builds it from the settings; a test builds it from a temporary database
and an in-process TTP.

The service takes only stage-1 files, made at the source (`pseudonymisation.source_side
.make_stage1`; `zorgbroker submit` makes one first): `receive` checks the file
(`open_stage1_file`) before the file store sees it, and a raw export, or a stage-1 file with an
identifier in the clear, becomes a finished upload whose report is the refusal (BF-020, BF-021,
BF-022), with nothing stored. So the upload store never holds a BSN, a name or a birth date.

`submit` stores the file and records a queued upload, then hands it to the dispatcher; `process`
runs it through the registry's check of the stage-1 file, the TTP's stage-2 pseudonyms, and
(production) the comparison and import, and is safe to run again for the same upload at any time:

- a finished upload returns its stored report and changes nothing;
- an upload whose process died (status still "processing") or failed is simply processed again:
  the import is one transaction, so a dead attempt left nothing behind;
- two processes on the same upload at once are serialised by the dataset lock, and the second
  finds it finished;
- an interrupted one (Ctrl-C) is marked stopped and its file removed: nothing was stored, and
  the same file can be submitted again.

A production import holds its dataset's lock (PostgreSQL advisory lock, or SQLite's write lock)
from the moment it reads the held data until it commits, so no two imports of one dataset ever
compare against stale data. The expensive part, checks and pseudonymisation, runs before, unlocked.
"""

from __future__ import annotations

import builtins
import datetime as dt
import gzip
import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from zorgbroker.intake.api import (
    CheckOptions,
    CheckOutcome,
    DatasetSpec,
    FileInfo,
    Mode,
    Report,
    SpecError,
    Stored,
    load_dataset,
    refusal,
    write_json,
)
from zorgbroker.logging import get_logger
from zorgbroker.pseudonymisation.registry_side import check_stage1_file, file_info
from zorgbroker.pseudonymisation.stage1_reader import Stage1Refused, open_stage1_file, read_manifest
from zorgbroker.registry.crash_point import pause_after_batch
from zorgbroker.registry.database import lock_for_transaction, write_transaction
from zorgbroker.registry.importer import import_records
from zorgbroker.registry.layout import layout_for
from zorgbroker.registry.models import (
    AccessLogEntry,
    DatasetVersion,
    Organisation,
    Upload,
    UploadReport,
)
from zorgbroker.registry.records import RecordsError, stored_frames
from zorgbroker.registry.registry_db import ensure_dataset_version
from zorgbroker.registry.report_merge import merge
from zorgbroker.uploads.access_log import UploadAccessLog
from zorgbroker.uploads.errors import (
    ProcessingFailed,
    UploadError,
    UploadInterrupted,
    UploadNotFound,
)
from zorgbroker.uploads.files import FileStore
from zorgbroker.uploads.history import UploadHistory
from zorgbroker.uploads.models import (
    DONE,
    FAILED,
    FINISHED,
    IN_FLIGHT,
    PROCESSING,
    QUEUED,
    STOPPED,
    UploadInfo,
)
from zorgbroker.uploads.progress import (
    COMPARISON,
    DONE_STAGE,
    IMPORT,
    PSEUDONYMISATION,
    STRUCTURE,
    VALIDATION,
    StageTracker,
)
from zorgbroker.uploads.tasks import Dispatcher, Inline, Mailer, NoMail

if TYPE_CHECKING:
    from zorgbroker.pseudonymisation.relay import Stage1Relay

log = get_logger(__name__)

REPORT_ENCODING = "json+gzip"

#: The moment now, in UTC.
Clock = Callable[[], dt.datetime]
#: The registry's check of one stored stage-1 file: `check_stage1_file` (path, spec, options,
#: display name).
Checker = Callable[[Path, DatasetSpec, CheckOptions, str], CheckOutcome]


class RelayFactory(Protocol):
    """`Stage1Relay.for_mode` with the installation's TTP: what asks the TTP for the final
    pseudonyms of a stage-1 file's pseudonyms."""

    def __call__(
        self, mode: Mode, *, registry: str, source: str, source_key_fingerprint: str
    ) -> Stage1Relay: ...


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ImportOptions:
    #: Rows per statement or COPY chunk when the registry imports accepted records.
    batch_rows: int = 100_000


def check_agb(value: str) -> str:
    if not (len(value) == 8 and value.isdigit()):
        raise UploadError(f"'{value}' is geen AGB-code van 8 cijfers")
    return value


def dataset_spec(name: str) -> DatasetSpec:
    try:
        return load_dataset(name)
    except SpecError as exc:
        raise UploadError(str(exc)) from None
    except KeyError:
        raise UploadError(f"onbekende dataset '{name}'; zie 'zorgbroker datasets'") from None


def ensure_organisation(conn: Connection, agb: str, now: dt.datetime) -> int:
    found = conn.execute(
        select(Organisation.id).where(Organisation.agb == agb)
    ).scalar_one_or_none()
    if found is not None:
        return found
    result = conn.execute(insert(Organisation).values(agb=agb, created_at=now))
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


def _messages_parquet(report: Report) -> bytes:
    buffer = io.BytesIO()
    report.messages.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def _report_body(report: Report) -> bytes:
    buffer = io.StringIO()
    write_json(report, buffer)
    return gzip.compress(buffer.getvalue().encode("utf-8"), compresslevel=6)


def _status(conn: Connection, upload_id: int) -> str | None:
    return conn.execute(select(Upload.status).where(Upload.id == upload_id)).scalar_one_or_none()


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


class UploadService:
    def __init__(
        self,
        *,
        engine: Engine,
        files: FileStore,
        relays: RelayFactory,
        dispatcher: Dispatcher | None = None,
        mailer: Mailer | None = None,
        clock: Clock = utc_now,
        checker: Checker = check_stage1_file,
        imports: ImportOptions | None = None,
    ) -> None:
        self._engine = engine
        self._history = UploadHistory(engine)
        self._access = UploadAccessLog(engine, clock)
        self._files = files
        self._relays = relays
        self._dispatcher = dispatcher or Inline()
        self._mailer = mailer or NoMail()
        self._clock = clock
        self._check = checker
        self._imports = imports or ImportOptions()

    @property
    def processes_in_background(self) -> bool:
        """Whether a submitted upload is processed elsewhere (by a worker)."""
        return self._dispatcher.in_background

    # --- taking a file in ------------------------------------------------------------------------

    def submit(
        self,
        file: Path,
        *,
        dataset: str,
        organisation: str,
        mode: Mode,
        uploaded_by: str,
        today: dt.date | None = None,
    ) -> int:
        """Take the file in (`receive`) and hand it to the dispatcher; the upload's id.

        Inline, the upload has been processed (done or failed) when this returns; Ctrl-C while
        it is processed raises `UploadInterrupted`. With a queue, dispatching raises the
        dispatcher's error (`QueueUnavailable`) when the queue cannot be reached."""
        upload_id = self.receive(
            file,
            dataset=dataset,
            organisation=organisation,
            mode=mode,
            uploaded_by=uploaded_by,
            today=today,
        )
        self.dispatch(upload_id)
        return upload_id

    def dispatch(self, upload_id: int) -> None:
        """Hand a received upload to the dispatcher (again: one that stayed queued because the
        queue could not be reached)."""
        self._dispatcher.dispatch(upload_id, self.run)

    def receive(
        self,
        file: Path,
        *,
        dataset: str,
        organisation: str,
        mode: Mode,
        uploaded_by: str,
        today: dt.date | None = None,
    ) -> int:
        """Record a queued upload of the stage-1 file `file` and keep a copy until it is
        processed; its id.

        Anything that is not an acceptable stage-1 file of the dataset (a raw export, an
        identifier in the clear, another dataset) is not kept: it becomes a finished upload whose
        report is the refusal. A production upload of an export that is already queued or being
        processed for the same organisation and dataset version returns that upload instead of
        a second one; the export is recognised by its SHA-256 in the manifest, since the stage-1
        file itself differs on every run (fresh sealing keys).
        """
        check_agb(organisation)
        if mode not in ("test", "production"):
            raise UploadError(f"onbekende modus '{mode}'; kies test of production")
        if not file.is_file():
            raise UploadError(f"bestand '{file}' bestaat niet of is geen bestand")
        spec = dataset_spec(dataset)
        try:
            export = open_stage1_file(file, spec, registry=spec.registry).manifest.file
        except Stage1Refused as refused:
            info = file_info(file, file.name)
            return self._refused(info, spec, organisation, mode, uploaded_by, today, refused)
        copy = self._files.put(file)
        now = self._clock()
        sha256 = str(export["sha256"])
        values = {
            "mode": mode,
            "status": QUEUED,
            "file_name": str(export["name"])[:255],
            "file_sha256": sha256,
            "file_bytes": int(export["bytes"]),
            "stored_file": copy.name,
            "reference_date": today or now.astimezone().date(),
            "uploaded_by": uploaded_by[:200],
            "submitted_at": now,
            "attempts": 0,
        }
        try:
            with write_transaction(self._engine) as conn:
                organisation_id = ensure_organisation(conn, organisation, now)
                version_id = ensure_dataset_version(conn, spec)
                if mode == "production":
                    existing = _in_flight(conn, organisation_id, version_id, sha256)
                    if existing is not None:
                        self._files.remove(copy.name)
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
            self._files.remove(copy.name)
            existing = self._joined(organisation, spec, sha256)
            if existing is None:
                raise
            return existing
        except BaseException:
            self._files.remove(copy.name)
            raise
        log.info(
            "upload.submitted", upload=upload_id, dataset=spec.dataset, mode=mode, bytes=copy.size
        )
        return upload_id

    def refuse_unreceived(
        self,
        refused: Stage1Refused,
        *,
        name: str,
        sha256: str,
        size: int,
        dataset: str,
        organisation: str,
        mode: Mode,
        uploaded_by: str,
        today: dt.date | None = None,
    ) -> int:
        """Record the refusal of a body the portal refused while it arrived (`stage1_guard`),
        so nothing of it was ever written: a finished upload whose report is the refusal, as
        `receive` makes of a file it refuses. `sha256` and `size` are of the whole body."""
        check_agb(organisation)
        if mode not in ("test", "production"):
            raise UploadError(f"onbekende modus '{mode}'; kies test of production")
        spec = dataset_spec(dataset)
        info = FileInfo(name, sha256, size, "unknown", None)
        return self._refused(info, spec, organisation, mode, uploaded_by, today, refused)

    def _refused(
        self,
        info: FileInfo,
        spec: DatasetSpec,
        organisation: str,
        mode: Mode,
        uploaded_by: str,
        today: dt.date | None,
        refused: Stage1Refused,
    ) -> int:
        """A finished upload whose report is the refusal of a file that is not an acceptable
        stage-1 file, mailed as a finished upload is; nothing of the file is kept (its name,
        size and hash only)."""
        now = self._clock()
        reference = today or now.astimezone().date()
        options = CheckOptions(today=reference, organisation=organisation, mode=mode)
        report = refusal(spec, options, info, refused.code, refused.detail).report
        report = report.with_registry_result(
            fingerprints={}, stored=Stored() if mode == "production" else None
        )
        with write_transaction(self._engine) as conn:
            result = conn.execute(
                insert(Upload).values(
                    organisation_id=ensure_organisation(conn, organisation, now),
                    dataset_version_id=ensure_dataset_version(conn, spec),
                    mode=mode,
                    status=PROCESSING,
                    file_name=info.name[:255],
                    file_sha256=info.sha256,
                    file_bytes=info.bytes,
                    stored_file=None,
                    reference_date=reference,
                    uploaded_by=uploaded_by[:200],
                    submitted_at=now,
                    attempts=1,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            upload_id = int(key[0])
            self._finish(conn, upload_id, report, {})
        log.info("upload.refused", upload=upload_id, dataset=spec.dataset, code=refused.code)
        # Finished here, so no job will mail it: the sender hears of the refusal now.
        info_now = self.get(upload_id)
        if info_now is not None:
            self._mailer.upload_finished(info_now, report)
        return upload_id

    def _joined(self, organisation: str, spec: DatasetSpec, sha256: str) -> int | None:
        with self._engine.connect() as conn:
            orgs = select(Organisation.id).where(Organisation.agb == organisation).scalar_subquery()
            versions = (
                select(DatasetVersion.id)
                .where(
                    DatasetVersion.dataset == spec.dataset, DatasetVersion.version == spec.version
                )
                .scalar_subquery()
            )
            return conn.execute(
                select(Upload.id).where(
                    Upload.organisation_id == orgs,
                    Upload.dataset_version_id == versions,
                    Upload.file_sha256 == sha256,
                    Upload.mode == "production",
                    Upload.status.in_(IN_FLIGHT),
                )
            ).scalar_one_or_none()

    # --- reading the history ---------------------------------------------------------------------

    def get(self, upload_id: int) -> UploadInfo | None:
        return self._history.get(upload_id)

    def list(
        self, *, organisation: str | None = None, limit: int | None = None
    ) -> builtins.list[UploadInfo]:
        """Uploads, newest first."""
        return self._history.list(organisation=organisation, limit=limit)

    def organisations(self) -> builtins.list[str]:
        """The AGB codes of the organisations that uploaded anything, sorted."""
        return self._history.organisations()

    def report(self, upload_id: int) -> Report:
        """The stored report of a finished upload; `UploadNotFound`, or `NoReport` saying why
        there is none (yet)."""
        return self._history.report(upload_id)

    def messages(self, upload_id: int) -> pl.DataFrame:
        """The messages of a finished upload's report, quick to filter and page (its Parquet
        copy); exceptions as `report`."""
        return self._history.messages(upload_id)

    def record_access(
        self, upload_id: int, *, actor: str, on_behalf_of: str, action: str, detail: str | None
    ) -> None:
        """Write a view or download of an upload's report to the access log (NEN 7513)."""
        info = self.get(upload_id)
        if info is None:
            raise UploadNotFound(upload_id)
        self._access.record(
            upload_id=upload_id,
            actor=actor,
            on_behalf_of=on_behalf_of,
            action=action,
            dataset=info.dataset,
            detail=detail,
        )

    def wait(self, upload_id: int, *, poll_seconds: float = 0.5) -> UploadInfo:
        """The upload once it is finished (at once after an inline dispatch)."""
        while True:
            info = self.get(upload_id)
            if info is None:
                raise UploadNotFound(upload_id)
            if info.status in FINISHED:
                return info
            time.sleep(poll_seconds)

    # --- stopping --------------------------------------------------------------------------------

    def cancel(self, upload_id: int, *, reason: str) -> UploadInfo:
        """Stop an upload that is not finished: marked stopped with the reason, its file removed.
        A finished one is left as it is. (An attempt still running elsewhere commits nothing
        after this: it finds the upload no longer in flight.)"""
        with write_transaction(self._engine) as conn:
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.status.in_(IN_FLIGHT))
                .values(status=STOPPED, finished_at=self._clock(), error=reason)
            )
        info = self.get(upload_id)
        if info is None:
            raise UploadNotFound(upload_id)
        if info.status == STOPPED:
            self._files.remove(info.stored_file)
            with write_transaction(self._engine) as conn:
                conn.execute(update(Upload).where(Upload.id == upload_id).values(stored_file=None))
            log.info("upload.stopped", upload=upload_id)
        return info

    # --- processing ------------------------------------------------------------------------------

    def run(self, upload_id: int) -> str | None:
        """One upload job: process it, then mail how it ended; its final status.

        Never raises for a failed upload (that is an outcome, recorded on the upload and
        mailed), so a job runner has nothing to log but ids. An upload that was already
        finished is left alone and not mailed again. None for an unknown id."""
        before = self.get(upload_id)
        if before is None:
            log.warning("job.unknown_upload", upload=upload_id)
            return None
        if before.status in FINISHED:
            return before.status
        try:
            self.process(upload_id)
        except ProcessingFailed:
            pass
        except UploadNotFound:  # the upload disappeared between our look and processing
            log.warning("job.unknown_upload", upload=upload_id)
            return None
        after = self.get(upload_id)
        if after is None:
            return None
        # The mail attaches the report as stored, as `zorgbroker report` shows it.
        report = self.report(upload_id) if after.status == DONE else None
        self._mailer.upload_finished(after, report)
        return after.status

    def process(self, upload_id: int) -> Report:
        """Run one stored upload through the whole intake and return its report (idempotent).

        `ProcessingFailed` when it fails (the upload is marked failed); `UploadInterrupted` on
        Ctrl-C (the upload is marked stopped)."""
        info = self.get(upload_id)
        if info is None:
            raise UploadNotFound(upload_id)
        if info.status == DONE:
            return self.report(upload_id)
        if info.status == STOPPED:
            raise UploadError(f"aanlevering {upload_id} is gestopt; lever het bestand opnieuw aan")
        with write_transaction(self._engine) as conn:
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id, Upload.status != DONE)
                .values(
                    status=PROCESSING,
                    started_at=self._clock(),
                    attempts=Upload.attempts + 1,
                    error=None,
                )
            )
        tracker = StageTracker(self._engine, upload_id, self._clock)
        try:
            return self._process(info, tracker)
        except ProcessingFailed:
            raise
        except KeyboardInterrupt:
            self.cancel(upload_id, reason="Gestopt met Ctrl-C; er is niets opgeslagen.")
            log.warning("upload.interrupted", upload=upload_id)
            raise UploadInterrupted(upload_id) from None
        except Exception as exc:
            message = _failure_text(exc)
            self._mark(upload_id, status=FAILED, finished_at=self._clock(), error=message)
            log.warning("upload.failed", upload=upload_id, error=type(exc).__name__)
            raise ProcessingFailed(upload_id, message) from exc

    def _mark(self, upload_id: int, **values: Any) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(
                update(Upload).where(Upload.id == upload_id, Upload.status != DONE).values(**values)
            )

    def _process(self, info: UploadInfo, tracker: StageTracker) -> Report:
        upload_id = info.id
        tracker.enter(STRUCTURE)
        spec = dataset_spec(info.dataset)
        if spec.version != info.dataset_version:
            raise UploadError(
                f"De aanlevering is gedaan voor versie {info.dataset_version} van {info.dataset}, "
                f"maar deze installatie kent versie {spec.version}; lever het bestand opnieuw aan."
            )
        path = self._files.path(info.stored_file) if info.stored_file else None
        if path is None:
            with self._engine.connect() as conn:
                if _status(conn, upload_id) == DONE:
                    return self.report(upload_id)
            raise UploadError(
                "Het aangeleverde bestand is niet meer beschikbaar; lever het opnieuw aan."
            )
        mode: Mode = "production" if info.mode == "production" else "test"
        relay = self._relays(
            mode,
            registry=spec.registry,
            source=info.organisation,
            source_key_fingerprint=_source_key_fingerprint(path),
        )
        # The embedded TTP writes its re-identification store while the registry compares and
        # imports; `settle` waits for it, and every way out of this block waits for it too.
        with relay.storing_in_background() as settle:
            timings: dict[str, float] = {}
            started = time.perf_counter()
            options = CheckOptions(
                today=info.reference_date,
                organisation=info.organisation,
                mode=mode,
                collect_accepted=True,
                relay=_tracked(relay.pseudonymise_field, tracker),
            )
            outcome = self._check(path, spec, options, info.file_name)
            timings["check"] = time.perf_counter() - started
            for stage in (STRUCTURE, VALIDATION):
                tracker.record(stage, rows=outcome.report.records)
            # A rejected production file stores nothing; an import says what it stored (`merge`).
            rejected = mode == "production" and outcome.report.file_rejected
            report = outcome.report.with_registry_result(
                fingerprints={k: str(v) for k, v in relay.fingerprints().items()},
                stored=Stored() if rejected else None,
            )
            if mode == "test" or report.file_rejected:
                settle()
                with write_transaction(self._engine) as conn:
                    if _status(conn, upload_id) in (DONE, STOPPED):
                        return self._already_finished(upload_id)
                    self._finish(conn, upload_id, report, timings, tracker.finished())
                self._files.remove(info.stored_file)
                _log_done(upload_id, report, timings)
                return report
            frames = stored_frames(layout_for(spec.dataset), outcome.accepted)
            del outcome
            # Written before the import's transaction: on SQLite that holds the write lock.
            tracker.enter(COMPARISON)
            with write_transaction(self._engine) as conn:
                lock_for_transaction(conn, f"dataset:{spec.dataset}")
                imported = None
                # Else another process finished it meanwhile, or it was stopped.
                if _status(conn, upload_id) not in (DONE, STOPPED):
                    imported = self._import(conn, info, spec, frames, report, timings, tracker)
                # Nothing is committed that the TTP could not re-identify: its store comes first.
                settle()
        if imported is None:
            return self._already_finished(upload_id)
        self._files.remove(info.stored_file)
        _log_done(upload_id, imported, timings)
        return imported

    def _already_finished(self, upload_id: int) -> Report:
        info = self.get(upload_id)
        if info is not None and info.status == STOPPED:
            raise UploadError(f"aanlevering {upload_id} is intussen gestopt")
        return self.report(upload_id)

    def _finish(
        self,
        conn: Connection,
        upload_id: int,
        report: Report,
        timings: dict[str, float],
        stages: dict[str, Any] | None = None,
    ) -> None:
        stored = report.stored
        conn.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(
                status=DONE,
                finished_at=self._clock(),
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
                stage=DONE_STAGE,
                stage_started_at=self._clock(),
                stages=stages,
            )
        )
        conn.execute(
            insert(UploadReport).values(
                upload_id=upload_id,
                encoding=REPORT_ENCODING,
                body=_report_body(report),
                messages_parquet=_messages_parquet(report),
            )
        )

    def _import(
        self,
        conn: Connection,
        info: UploadInfo,
        spec: DatasetSpec,
        frames: dict[str, pl.DataFrame],
        report: Report,
        timings: dict[str, float],
        tracker: StageTracker,
    ) -> Report:
        """Compare, write, and finish the upload, all in the caller's (locked) transaction."""
        result = import_records(
            conn,
            layout_for(spec.dataset),
            frames,
            upload_id=info.id,
            today=info.reference_date,
            organisation=info.organisation,
            batch_rows=self._imports.batch_rows,
            after_batch=pause_after_batch,
        )
        timings.update(result.timings)
        found = result.outcome
        report = merge(report, spec, found.messages, found.rejected.len(), found.stored)
        # The import's phases are measured inside it; its rows are the records it looked at.
        compared = result.timings.get("fetch", 0.0) + result.timings.get("compare", 0.0)
        tracker.record(COMPARISON, seconds=compared, rows=report.accepted)
        tracker.record(IMPORT, seconds=result.timings.get("write", 0.0), rows=report.accepted)
        stages = tracker.finished()
        stages[COMPARISON]["seconds"] = round(compared, 3)
        self._finish(conn, info.id, report, timings, stages)
        conn.execute(
            insert(AccessLogEntry).values(
                at=self._clock(),
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


def _tracked(relay: Callable[..., pl.Series], tracker: StageTracker) -> Callable[..., pl.Series]:
    """The relay, marking the pseudonymisation stage while it runs and counting its rows (the
    most values of one field: several pseudonymised fields are not more records)."""
    counts: dict[tuple[str, str], int] = {}

    def relay_field(
        table: str, field: str, values: pl.Series, sealed: pl.Series | None
    ) -> pl.Series:
        tracker.enter(PSEUDONYMISATION)
        relayed = relay(table, field, values, sealed)
        counts[(table, field)] = counts.get((table, field), 0) + len(values)
        tracker.record(PSEUDONYMISATION, rows=max(counts.values()))
        tracker.enter(VALIDATION)
        return relayed

    return relay_field


def _source_key_fingerprint(path: Path) -> str:
    """The source key's fingerprint as the stage-1 file's manifest names it; empty for a file
    that is no longer acceptable (its check then gives the refusal)."""
    try:
        return read_manifest(path).source_key_fingerprint
    except Stage1Refused:
        return ""


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
