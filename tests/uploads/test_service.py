"""The upload service on its own: a temporary SQLite database, an in-process TTP, a file store in
a temporary folder, a fixed clock, and no Settings anywhere."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.intake.conftest import write_csv
from tests.registry.conftest import AGB, NHR_HEADER, TODAY, serial_rows
from tests.stage1 import stage1_of
from zorgbroker.intake.api import Report, Stored
from zorgbroker.pseudonymisation.client import LocalTTP
from zorgbroker.pseudonymisation.relay import Stage1Relay
from zorgbroker.pseudonymisation.stage1_reader import Stage1Refused
from zorgbroker.registry.layout import layout_for
from zorgbroker.registry.registry_db import open_registry_database
from zorgbroker.settings import Settings
from zorgbroker.uploads.errors import NoReport, ProcessingFailed, UploadError, UploadInterrupted
from zorgbroker.uploads.files import LocalFileStore
from zorgbroker.uploads.models import UploadInfo
from zorgbroker.uploads.service import UploadService
from zorgbroker.uploads.tasks import Held, Inline

NOW = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)


class Letters:
    """A mailer that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[UploadInfo, Report | None]] = []

    def upload_finished(self, info: UploadInfo, report: Report | None) -> object:
        self.sent.append((info, report))
        return "sent"


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Reading the settings fails the test; an unset home would point nowhere useful."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the upload service read the Settings")

    monkeypatch.setattr(Settings, "__init__", refuse)
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "not-used"))
    monkeypatch.delenv("ZORGBROKER_TTP_URL", raising=False)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_registry_database(f"sqlite:///{tmp_path / 'db' / 'registry.sqlite3'}", create=True)


@pytest.fixture
def store(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "store")


def make_service(
    engine: Engine, store: LocalFileStore, tmp_path: Path, **collaborators: object
) -> UploadService:
    relays = partial(Stage1Relay.for_mode, ttp=LocalTTP(tmp_path / "ttp"))
    return UploadService(
        engine=engine,
        files=store,
        relays=relays,
        clock=lambda: NOW,
        **collaborators,  # type: ignore[arg-type]
    )


def export(tmp_path: Path, rows: int = 2) -> Path:
    return write_csv(tmp_path / "export.csv", NHR_HEADER, serial_rows(rows))


def submit(service: UploadService, path: Path, mode: str = "production") -> int:
    """Submit the export's stage-1 file, made with a source key in `path`'s folder and BSNs
    sealed to the test's TTP."""
    stage1 = stage1_of(
        path,
        dataset="nhr-pmicd",
        mode=mode,
        home=path.parent / "source",
        organisation=AGB,
        today=TODAY,
        ttp_public_key=LocalTTP(path.parent / "ttp").seal_public_key(),
    )
    return service.submit(
        stage1, dataset="nhr-pmicd", organisation=AGB, mode=mode, uploaded_by="jansen", today=TODAY
    )  # type: ignore[arg-type]


def held(engine: Engine) -> int:
    table = layout_for("nhr-pmicd").main.sql_name
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def stored_files(store_root: Path) -> list[Path]:
    return [p for p in store_root.rglob("*") if p.is_file()]


def test_a_production_upload_goes_through_and_is_mailed(
    engine: Engine, store: LocalFileStore, tmp_path: Path
):
    letters = Letters()
    service = make_service(engine, store, tmp_path, dispatcher=Inline(), mailer=letters)

    upload_id = submit(service, export(tmp_path))

    info = service.get(upload_id)
    assert info is not None and info.status == "done" and info.stored_file is None
    assert info.submitted_at == NOW and info.finished_at == NOW
    assert info.stored == Stored(new=2) and info.uploaded_by == "jansen"
    report = service.report(upload_id)
    assert report.stored == Stored(new=2) and report.accepted == 2
    assert report.pseudonymisation  # the key fingerprints of the in-process TTP
    assert held(engine) == 2
    assert stored_files(tmp_path / "store") == []  # the file is gone once processed
    ((mailed, mailed_report),) = letters.sent
    assert mailed.id == upload_id and mailed_report is not None
    assert [u.id for u in service.list()] == [upload_id]
    assert service.list(organisation="07654321") == []


def test_a_queued_upload_has_no_report_yet_and_can_be_cancelled(
    engine: Engine, store: LocalFileStore, tmp_path: Path
):
    held_back = Held()
    service = make_service(engine, store, tmp_path, dispatcher=held_back)
    upload_id = submit(service, export(tmp_path))
    assert held_back.dispatched == [upload_id]
    assert len(stored_files(tmp_path / "store")) == 1

    with pytest.raises(NoReport) as waiting:
        service.report(upload_id)
    assert waiting.value.status == "queued"
    assert "staat nog in de wachtrij" in waiting.value.message

    info = service.cancel(upload_id, reason="Ingetrokken.")

    assert info.status == "stopped" and info.error == "Ingetrokken."
    assert stored_files(tmp_path / "store") == []
    with pytest.raises(UploadError, match="gestopt"):
        service.process(upload_id)
    assert held(engine) == 0


def test_ctrl_c_while_processing_stops_the_upload_and_removes_its_file(
    engine: Engine, store: LocalFileStore, tmp_path: Path
):
    def interrupted(*args: object) -> object:
        raise KeyboardInterrupt

    letters = Letters()
    service = make_service(engine, store, tmp_path, checker=interrupted, mailer=letters)

    with pytest.raises(UploadInterrupted) as stopped:
        submit(service, export(tmp_path))

    info = service.get(stopped.value.upload_id)
    assert info is not None and info.status == "stopped" and info.stored_file is None
    assert info.error is not None and "Ctrl-C" in info.error
    assert stored_files(tmp_path / "store") == []
    assert held(engine) == 0 and letters.sent == []


def test_a_failed_check_marks_the_upload_failed_and_a_retry_completes_it(
    engine: Engine, store: LocalFileStore, tmp_path: Path
):
    from zorgbroker.pseudonymisation.registry_side import check_stage1_file

    calls: list[int] = []

    def flaky(*args: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("schijf vol")
        return check_stage1_file(*args)  # type: ignore[arg-type]

    service = make_service(engine, store, tmp_path, dispatcher=Held(), checker=flaky)
    upload_id = submit(service, export(tmp_path))

    with pytest.raises(ProcessingFailed) as failure:
        service.process(upload_id)
    assert failure.value.message == (
        "Verwerking mislukt (OSError); de aanlevering kan opnieuw worden verwerkt."
    )
    assert service.get(upload_id).status == "failed"  # type: ignore[union-attr]
    assert len(stored_files(tmp_path / "store")) == 1  # kept for the retry

    assert service.process(upload_id).stored == Stored(new=2)
    assert service.get(upload_id).status == "done"  # type: ignore[union-attr]
    assert service.process(upload_id).stored == Stored(new=2)  # again: nothing changes
    assert held(engine) == 2


def test_a_raw_export_handed_to_the_service_is_refused_and_nothing_is_kept(
    engine: Engine, store: LocalFileStore, tmp_path: Path
):
    letters = Letters()
    service = make_service(engine, store, tmp_path, dispatcher=Inline(), mailer=letters)
    raw = export(tmp_path)

    upload_id = service.submit(
        raw, dataset="nhr-pmicd", organisation=AGB, mode="production", uploaded_by="jansen",
        today=TODAY,
    )  # fmt: skip

    info = service.get(upload_id)
    assert info is not None and info.status == "done" and info.file_rejected
    assert info.stored_file is None and info.file_name == "export.csv"
    report = service.report(upload_id)
    assert report.messages["code"].to_list() == ["BF-020"]
    assert report.stored == Stored() and report.file.name == "export.csv"
    assert not (tmp_path / "store").exists() or stored_files(tmp_path / "store") == []
    assert held(engine) == 0
    ((mailed, mailed_report),) = letters.sent  # the sender is told, once
    assert mailed.id == upload_id and mailed_report is not None
    assert mailed_report.messages["code"].to_list() == ["BF-020"]


def test_a_refusal_made_while_the_body_arrived_is_recorded_as_a_refused_upload(
    engine: Engine, store: LocalFileStore, tmp_path: Path
):
    """The portal's guard refused a body from its first KB and wrote nothing: the service
    records it from its name, size and hash as it records a file it refuses itself."""
    letters = Letters()
    service = make_service(engine, store, tmp_path, dispatcher=Inline(), mailer=letters)
    refused = Stage1Refused("BF-020", "export.csv: het bestand is geen stap-1-archief (ZIP)")

    upload_id = service.refuse_unreceived(
        refused, name="export.csv", sha256="ab" * 32, size=1234, dataset="nhr-pmicd",
        organisation=AGB, mode="test", uploaded_by="jansen", today=TODAY,
    )  # fmt: skip

    info = service.get(upload_id)
    assert info is not None and info.status == "done" and info.file_rejected
    assert (info.file_name, info.file_bytes, info.stored_file) == ("export.csv", 1234, None)
    report = service.report(upload_id)
    assert report.messages["code"].to_list() == ["BF-020"]
    assert "export.csv: het bestand is geen" in str(report.messages.row(0))
    assert report.file.sha256 == "ab" * 32 and report.stored is None
    assert not (tmp_path / "store").exists() or stored_files(tmp_path / "store") == []
    ((mailed, _),) = letters.sent
    assert mailed.id == upload_id
    with pytest.raises(UploadError, match="Onbekende dataset"):
        service.refuse_unreceived(
            refused, name="x", sha256="", size=1, dataset="bestaat-niet", organisation=AGB,
            mode="test", uploaded_by="jansen",
        )  # fmt: skip


def test_a_repeated_production_export_is_recognised_by_its_own_hash(
    engine: Engine, store: LocalFileStore, tmp_path: Path
):
    """Each run of the source makes another stage-1 file (fresh sealing keys); the upload that
    waits is found by the export's SHA-256 the manifest carries."""
    service = make_service(engine, store, tmp_path, dispatcher=Held())
    path = export(tmp_path)

    first = submit(service, path)
    again = submit(service, path)

    assert again == first
    info = service.get(first)
    assert info is not None and info.file_name == "export.csv"
    assert info.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(stored_files(tmp_path / "store")) == 1
