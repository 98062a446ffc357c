"""After production runs, no BSN, surname or full birth date of the input is anywhere the registry
writes: its database (SQLite file bytes, or every PostgreSQL table dumped), its logs, the command's
output, and every file under ZORGBROKER_HOME except the TTP's `ttp/` and the source's `source/`."""

from __future__ import annotations

import datetime as dt
import gzip
import io
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tests.registry.conftest import AGB, Registry, nhr_row, nivel_tables
from tests.stage1 import make_ttp_unusable
from zorgbroker import logging as zb_logging
from zorgbroker.cli import app

# Patients of the nhr files: (BSN, surname, birth date as ISO).
NHR_ISO = [
    ("111222333", "Vermeulenhorst", "1950-03-04"),
    ("123456782", "Zwanenburgh", "1948-07-21"),
]
NHR_DMY = [("999999990", "Oosterwoldink", "1939-12-30")]
NIVEL_PATIENT = ("010000008", None, "1961-02-03")
NIVEL_THERAPIST = (None, "Bakkerveld", "1980-06-15")


def _forms(iso: str, in_file: str) -> set[str]:
    day = dt.date.fromisoformat(iso)
    return {in_file, day.isoformat(), day.strftime("%d-%m-%Y"), day.strftime("%Y%m%d")}


def needles() -> set[str]:
    found: set[str] = set()
    for bsn, surname, born in NHR_ISO:
        found |= {bsn, surname, surname.lower()} | _forms(born, born)
    for bsn, surname, born in NHR_DMY:
        in_file = dt.date.fromisoformat(born).strftime("%d-%m-%Y")
        found |= {bsn, surname, surname.lower()} | _forms(born, in_file)
    found |= {NIVEL_PATIENT[0]} | _forms(NIVEL_PATIENT[2], NIVEL_PATIENT[2])  # type: ignore[arg-type]
    found |= {"Bakkerveld", "bakkerveld"} | _forms(NIVEL_THERAPIST[2], NIVEL_THERAPIST[2])
    return found


def _nhr_files(registry: Registry) -> list[Path]:
    iso = [
        nhr_row(bsn=bsn, achternaam=name, geboortedatum=born, serienummer=f"GEN0000{i}",
                lead1_serienummer=f"LA0000{i}", lead2_serienummer=f"LB0000{i}")
        for i, (bsn, name, born) in enumerate(NHR_ISO)
    ]  # fmt: skip
    bsn, name, born = NHR_DMY[0]
    dmy = {
        **nhr_row(bsn=bsn, achternaam=name, serienummer="GEN00009", lead1_serienummer="LA00009",
                  lead2_serienummer="LB00009"),
        "geboortedatum": dt.date.fromisoformat(born).strftime("%d-%m-%Y"),
        "procedure_datum": "10-11-2026", "opname_datum": "09-11-2026",
        "ontslag_datum": "11-11-2026",
    }  # fmt: skip
    return [registry.nhr_file(iso), registry.nhr_file([dmy], sep=",")]


def _nivel_file(registry: Registry) -> Path:
    tables = nivel_tables(patients=[{
        "patient_id": "P1", "bsn": NIVEL_PATIENT[0], "geboortedatum": NIVEL_PATIENT[2],
        "geslacht": "V", "postcode4": "3512", "verzekeraar_uzovi": "3311",
        "toestemming": "toestemming",
    }])  # fmt: skip
    return registry.nivel_file(tables)


def _home_bytes(home: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for path in home.rglob("*"):
        relative = path.relative_to(home)
        if not path.is_file() or relative.parts[0] in ("ttp", "source"):
            continue
        out[str(relative)] = path.read_bytes()
    return out


def _postgres_dump(url: str) -> dict[str, bytes]:
    from zorgbroker.registry.database import engine_for

    with engine_for(url).connect() as conn:
        tables = inspect(conn).get_table_names()
    parsed = make_url(url)
    dump: dict[str, bytes] = {}
    with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                         dbname=parsed.database) as raw, raw.cursor() as cursor:  # fmt: skip
        for table in tables:
            buffer = io.BytesIO()
            with cursor.copy(f'COPY (SELECT * FROM "{table}") TO STDOUT') as copy:
                for data in copy:
                    buffer.write(data)
            dump[f"table {table}"] = buffer.getvalue()
        cursor.execute("SELECT upload_id, body FROM upload_reports")
        for upload_id, body in cursor.fetchall():
            dump[f"report {upload_id}"] = gzip.decompress(body)
    return dump


def _sqlite_reports(db: Path) -> dict[str, bytes]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT upload_id, body FROM upload_reports").fetchall()
    return {f"report {upload_id}": gzip.decompress(body) for upload_id, body in rows}


def test_no_bsn_name_or_birth_date_is_stored_logged_or_left_behind(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    # Every event, into the log file under ZORGBROKER_HOME where a user's log lines go.
    monkeypatch.delenv("ZORGBROKER_LOG_LEVEL", raising=False)
    zb_logging.configure(level="DEBUG")
    outputs: list[str] = []
    try:
        runner = CliRunner()
        files = [(p, "nhr-pmicd") for p in _nhr_files(registry)] + [
            (_nivel_file(registry), "nivel-fysio")
        ]
        # The needles are spelled as the files have them (else the scan below proves nothing).
        assert b"Vermeulenhorst;1950-03-04" in files[0][0].read_bytes()
        assert b"999999990,Oosterwoldink,30-12-1939" in files[1][0].read_bytes()
        for path, dataset in files:
            for mode in ("production", "test", "production"):
                for fmt in ("json", "text"):
                    result = runner.invoke(app, [
                        "submit", str(path), "--dataset", dataset, "--organisation", AGB,
                        "--mode", mode, "--format", fmt, "--peildatum", "2026-11-22",
                    ])  # fmt: skip
                    assert result.exit_code == 0, result.output
                    outputs.append(result.output)
        for args in (
            ["uploads"],
            ["uploads", "--format", "json"],
            ["report", "1"],
            ["devices", "--udi-di", "00614141999996", "--format", "json"],
        ):
            outputs.append(runner.invoke(app, args).output)
    finally:
        zb_logging.configure()

    assert registry.held().height == 3  # the nhr procedures did arrive
    places: dict[str, bytes] = _home_bytes(registry.settings.home)
    if registry.backend == "postgres":
        assert registry.settings.database_url is not None
        places |= _postgres_dump(registry.settings.database_url)
    else:
        database = registry.settings.home / "registry.sqlite3"
        assert str(database.relative_to(registry.settings.home)) in places
        places |= _sqlite_reports(database)
    log_file = zb_logging.log_file()
    assert str(log_file.relative_to(registry.settings.home)) in places  # scanned with the rest
    assert "upload.done" in log_file.read_text(encoding="utf-8")
    places["output"] = "\n".join(outputs).encode()
    assert not list((registry.settings.home / "uploads").iterdir())  # copies removed

    leaks = sorted(
        (needle, where)
        for where, content in places.items()
        for needle in needles()
        if needle.encode() in content
    )
    assert leaks == []


def _leaks(registry: Registry) -> list[tuple[str, str]]:
    """(needle, where) for every BSN, surname or birth date found where the registry writes."""
    places = _home_bytes(registry.settings.home)
    if registry.backend == "postgres":
        assert registry.settings.database_url is not None
        places |= _postgres_dump(registry.settings.database_url)
    else:
        places |= _sqlite_reports(registry.settings.home / "registry.sqlite3")
    return sorted(
        (needle, where)
        for where, content in places.items()
        for needle in needles()
        if needle.encode() in content
    )


def test_a_waiting_failed_interrupted_or_refused_upload_leaves_no_identifier(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    """The upload store holds only stage-1 files: while an upload waits, after it failed or was
    stopped with Ctrl-C, and when a raw export is handed to the service directly (refused with
    BF-020, nothing kept)."""
    from zorgbroker.uploads import service as upload_service
    from zorgbroker.uploads.errors import ProcessingFailed, UploadInterrupted

    monkeypatch.delenv("ZORGBROKER_LOG_LEVEL", raising=False)
    zb_logging.configure(level="DEBUG")
    uploads = registry.settings.home / "uploads"
    try:
        iso, dmy = _nhr_files(registry)
        waiting = registry.receive(iso)
        assert len(list(uploads.iterdir())) == 1  # the stage-1 copy waits in the store
        assert _leaks(registry) == []

        restore = make_ttp_unusable(registry.settings.home)
        with pytest.raises(ProcessingFailed):
            registry.process(waiting)
        restore()
        assert registry.get(waiting).status == "failed"

        def stopped(*args: object, **kwargs: object) -> object:
            raise KeyboardInterrupt

        monkeypatch.setattr(upload_service, "import_records", stopped)
        interrupted = registry.receive(dmy)
        with pytest.raises(UploadInterrupted):
            registry.process(interrupted)
        assert registry.get(interrupted).status == "stopped"

        refused = [
            registry.receive(iso, raw=True),
            registry.receive(dmy, raw=True, mode="test"),
            registry.receive(_nivel_file(registry), dataset="nivel-fysio", raw=True),
        ]
    finally:
        zb_logging.configure()

    for upload_id in refused:
        info = registry.get(upload_id)
        assert info.status == "done" and info.file_rejected and info.stored_file is None
        report = registry.process(upload_id)
        assert report.messages["code"].to_list() == ["BF-020"]
    assert [p.name for p in uploads.iterdir()] == [
        registry.get(waiting).stored_file.rsplit("/", 1)[-1]  # type: ignore[union-attr]
    ]  # the failed upload's stage-1 file, kept for a retry; nothing of the others
    assert registry.held().height == 0
    assert _leaks(registry) == []
