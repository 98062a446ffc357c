"""A registry per test, on SQLite and on a fresh PostgreSQL database, and small real upload files.

PostgreSQL runs on 127.0.0.1:5432 with trust authentication. One database
`zorgbroker_test_<random>` is created per test session and dropped afterwards; between tests every
table is emptied. Without a reachable server the PostgreSQL variants are skipped, saying why.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import inspect, text

from tests.intake.conftest import csv_bytes, write_csv, write_zip
from tests.stage1 import stage1_of
from zorgbroker.composition import open_registry, upload_service
from zorgbroker.intake.report.model import Report
from zorgbroker.intake.spec import load_dataset
from zorgbroker.registry import bulk
from zorgbroker.registry.database import engine_for
from zorgbroker.registry.layout import layout_for
from zorgbroker.settings import Settings, get_settings
from zorgbroker.uploads.models import UploadInfo
from zorgbroker.uploads.service import UploadService
from zorgbroker.uploads.tasks import Dispatcher, Held

TODAY = dt.date(2026, 11, 22)
AGB = "01234567"
OTHER_AGB = "07654321"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"

NHR_HEADER = [f.name for f in load_dataset("nhr-pmicd").main_table.fields]
PARABENCH_HEADER = [f.name for f in load_dataset("parabench-mi").main_table.fields]


def valid_bsns(count: int, start: int = 10_000_000) -> list[str]:
    """BSNs that pass the eleven-test, made from consecutive 8-digit stems."""
    out: list[str] = []
    stem = start
    while len(out) < count:
        digits = [int(c) for c in f"{stem:08d}"]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check <= 9:
            out.append(f"{stem:08d}{check}")
        stem += 1
    return out


def nhr_row(**changes: str) -> dict[str, str]:
    """A first implant that passes every check on TODAY (dates within the last month)."""
    row = {
        "centrum_agb": AGB, "bsn": "111222333", "achternaam": "Jansen",
        "geboortedatum": "1950-03-04", "geslacht": "M", "procedure_datum": "2026-11-10",
        "procedure_type": "1", "device_type": "PM-DC", "indicatie": "AVB", "fabrikant": "MDT",
        "udi_di": "00614141999996", "serienummer": "ABC12345", "aantal_leads": "2",
        "lead1_positie": "RA", "lead2_positie": "RV", "lead1_serienummer": "L1234",
        "lead2_serienummer": "L5678", "opname_datum": "2026-11-09", "ontslag_datum": "2026-11-11",
        "complicatie_30d": "N", "operateur_big": "12345678901",
    }  # fmt: skip
    row.update(changes)
    return row


def serial_rows(count: int, start: int = 0) -> list[dict[str, str]]:
    """Records `start` to `start + count`, each with a generator and two leads of serial numbers
    of its own (GEN…, LA…, LB… and its number)."""
    return [
        nhr_row(bsn=bsn, serienummer=f"GEN{i:07d}", lead1_serienummer=f"LA{i:07d}",
                lead2_serienummer=f"LB{i:07d}")
        for i, bsn in enumerate(valid_bsns(start + count)[start:], start=start)
    ]  # fmt: skip


def explant(**changes: str) -> dict[str, str]:
    """An explant (type 5) of the generator and both leads of `nhr_row()`."""
    row = nhr_row(
        procedure_type="5",
        procedure_datum="2026-11-15",
        opname_datum="2026-11-14",
        ontslag_datum="2026-11-16",
        indicatie="",
        udi_di="",
    )
    row.update(changes)
    return row


def parabench_row(kwartaal: int, **changes: str) -> dict[str, str]:
    row = {
        "praktijk_agb": AGB, "jaar": "2025", "kwartaal": str(kwartaal), "jaar_afgesloten": "N",
        "regio": "UT", "netwerk": "", "fte_therapeuten": "4,5", "patienten": "300",
        "nieuwe_patienten": "120", "patienten_man": "140", "patienten_0_17": "30",
        "patienten_18_64": "200", "patienten_65_plus": "70", "episodes_gestart": "150",
        "episodes_gestart_dtf": "60", "episodes_afgesloten": "140",
        "episodes_afgesloten_chronisch": "20", "behandelingen": "1800",
        "behandelingen_afgesloten_episodes": "1500", "behandelingen_afgesloten_chronisch": "400",
        "no_shows": "40", "omzet_eur": "70000", "omzet_contract_eur": "60000",
        "episodes_met_uitkomstmeting": "100",
    }  # fmt: skip
    row.update(changes)
    return row


NIVEL_TABLES = {
    "praktijk": ["praktijk_agb", "praktijk_naam", "postcode4", "extractie_datum", "periode_van",
                 "periode_tot", "software"],
    "therapeuten": ["therapeut_id", "achternaam", "geboortedatum", "geslacht", "zvl_soort",
                    "zvl_nummer", "big_nummer", "deelname"],
    "patienten": ["patient_id", "bsn", "geboortedatum", "geslacht", "postcode4",
                  "verzekeraar_uzovi", "toestemming"],
    "episodes": ["episode_id", "patient_id", "therapeut_id", "startdatum", "einddatum",
                 "verwijzing", "dcsph", "chronisch", "screening_uitkomst"],
    "verrichtingen": ["episode_id", "datum", "soort", "therapeut_id", "prestatiecode",
                      "instrument", "score"],
}  # fmt: skip


def nivel_tables(
    *,
    patients: Sequence[dict[str, str]] | None = None,
    episodes: Sequence[dict[str, str]] | None = None,
    treatments: Sequence[dict[str, str]] | None = None,
) -> dict[str, list[dict[str, str]]]:
    """One practice, one therapist, one patient, one episode with a treatment and a measurement."""
    return {
        "praktijk": [{"praktijk_agb": AGB, "praktijk_naam": "Fysio Centrum", "postcode4": "3511",
                      "extractie_datum": "2026-11-20", "periode_van": "2026-09-21",
                      "periode_tot": "2026-11-20", "software": "PMS 1.0"}],
        "therapeuten": [{"therapeut_id": "T1", "achternaam": "Bakkerveld",
                         "geboortedatum": "1980-06-15", "geslacht": "V", "zvl_soort": "01",
                         "zvl_nummer": "12345678", "big_nummer": "12345678901",
                         "deelname": "toestemming"}],
        "patienten": list(patients or [
            {"patient_id": "P1", "bsn": "123456782", "geboortedatum": "1961-02-03",
             "geslacht": "M", "postcode4": "3512", "verzekeraar_uzovi": "3311",
             "toestemming": "toestemming"}
        ]),
        "episodes": list(episodes or [
            {"episode_id": "E1", "patient_id": "P1", "therapeut_id": "T1",
             "startdatum": "2026-10-01", "einddatum": "", "verwijzing": "HA", "dcsph": "1234",
             "chronisch": "N", "screening_uitkomst": ""}
        ]),
        "verrichtingen": list(treatments or [
            {"episode_id": "E1", "datum": "2026-10-01", "soort": "M", "therapeut_id": "T1",
             "prestatiecode": "", "instrument": "NPRS", "score": "6"},
            {"episode_id": "E1", "datum": "2026-10-08", "soort": "B", "therapeut_id": "T1",
             "prestatiecode": "1000", "instrument": "", "score": ""},
        ]),
    }  # fmt: skip


@dataclass
class Registry:
    settings: Settings
    folder: Path
    backend: str
    _files: int = 0

    def _path(self, suffix: str) -> Path:
        self._files += 1
        return self.folder / f"upload-{self._files}{suffix}"

    def nhr_file(self, rows: Sequence[dict[str, str]], *, sep: str = ";") -> Path:
        return write_csv(self._path(".csv"), NHR_HEADER, rows, sep=sep)

    def parabench_file(self, rows: Sequence[dict[str, str]]) -> Path:
        return write_csv(self._path(".csv"), PARABENCH_HEADER, rows)

    def nivel_file(self, tables: dict[str, list[dict[str, str]]]) -> Path:
        members = {f"{name}.csv": csv_bytes(NIVEL_TABLES[name], rows)
                   for name, rows in tables.items()}  # fmt: skip
        return write_zip(self._path(".zip"), members)

    def service(self, dispatch: Dispatcher | None = None) -> UploadService:
        """The installation's upload service; by default one whose dispatcher only holds an
        upload, so a test processes it by hand (`process`)."""
        return upload_service(self.settings, dispatch=dispatch or Held())

    def receive(
        self,
        path: Path,
        *,
        dataset: str = "nhr-pmicd",
        mode: str = "production",
        organisation: str = AGB,
        raw: bool = False,
    ) -> int:
        """A queued upload of the export, not yet processed; its id. The service is handed the
        export's stage-1 file, made first as `zorgbroker submit` does (`raw`: the export itself,
        which the service refuses)."""
        if not raw:
            path = stage1_of(
                path,
                dataset=dataset,
                mode=mode,
                home=self.settings.home,
                organisation=organisation,
                today=TODAY,
            )
        return self.service().submit(
            path,
            dataset=dataset,
            organisation=organisation,
            mode=mode,  # type: ignore[arg-type]
            uploaded_by=self.settings.actor,
            today=TODAY,
        )

    def dispatch(self, upload_id: int) -> None:
        """Hand the upload to the installation's dispatcher (inline, or the queue)."""
        upload_service(self.settings).dispatch(upload_id)

    def process(self, upload_id: int) -> Report:
        return self.service().process(upload_id)

    def get(self, upload_id: int) -> UploadInfo:
        info = self.service().get(upload_id)
        assert info is not None
        return info

    def submit_file(
        self,
        path: Path,
        *,
        dataset: str = "nhr-pmicd",
        mode: str = "production",
        organisation: str = AGB,
    ) -> Report:
        upload_id = self.receive(path, dataset=dataset, mode=mode, organisation=organisation)
        return self.process(upload_id)

    def submit(self, rows: Sequence[dict[str, str]], **kwargs: Any) -> Report:
        return self.submit_file(self.nhr_file(rows), **kwargs)

    def held(self, dataset: str = "nhr-pmicd", table: str | None = None) -> pl.DataFrame:
        """Every stored row of a dataset table, in storage order."""
        layout = layout_for(dataset)
        target = layout.tables[table] if table else layout.main
        engine = open_registry(self.settings)
        with engine.begin() as conn:
            columns = ", ".join(target.schema)
            return bulk.read_frame(
                conn, f"SELECT {columns} FROM {target.sql_name} ORDER BY _id", target.schema
            )

    def scalar(self, sql: str) -> Any:
        with open_registry(self.settings).connect() as conn:
            return conn.execute(text(sql)).scalar()


def _postgres_admin_url() -> str:
    return f"{PG_SERVER}/postgres"


@contextmanager
def new_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database `zorgbroker_test_<random>`, dropped afterwards; skips the
    test without a reachable server."""
    import psycopg

    name = f"zorgbroker_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL op 127.0.0.1:5432 is niet bereikbaar ({type(exc).__name__})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{PG_SERVER}/{name}"
    try:
        yield url
    finally:
        engine_for(url).dispose()
        with psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True
        ) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with new_postgres_database() as url:
        yield url


def _empty_postgres(url: str) -> None:
    engine = engine_for(url)
    with engine.begin() as conn:
        # The record of the queue's schema stays with the queue's tables (zorgbroker.jobs.schema).
        kept = ("alembic_version", "dataset_versions", "zorgbroker_procrastinate_schema")
        names = [n for n in inspect(conn).get_table_names() if n not in kept]
        if names:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def registry(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Registry]:
    home = tmp_path / "home"
    monkeypatch.setenv("ZORGBROKER_HOME", str(home))
    monkeypatch.delenv("ZORGBROKER_TTP_URL", raising=False)
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("ZORGBROKER_DATABASE_URL", url)
    else:
        monkeypatch.delenv("ZORGBROKER_DATABASE_URL", raising=False)
    settings = get_settings(fresh=True)
    files = tmp_path / "files"
    files.mkdir()
    try:
        yield Registry(settings, files, request.param)
    finally:
        if url is not None:
            _empty_postgres(url)


def codes(report: Report) -> list[tuple[Any, ...]]:
    """(record, field, code) of every message, in report order."""
    return [tuple(r) for r in report.messages.select("record", "field", "code").rows()]


def table_codes(report: Report) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in report.messages.select("table", "record", "field", "code").rows()]
