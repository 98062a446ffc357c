"""Loading resources: date placeholders, XML and JSON, replacement, all-or-nothing, the schema."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, inspect, select
from typer.testing import CliRunner

from tests.fhir.conftest import GGZ, LOAD_DATE, TOKENS, auth
from zorgbroker.fhir.auth import StaticTokenVerifier
from zorgbroker.fhir.cli import fhir_app
from zorgbroker.fhir.models import SearchIndex, StoredResource
from zorgbroker.fhir.placeholders import fill_dates
from zorgbroker.fhir.routes import FhirService, create_app
from zorgbroker.fhir.schema import VERSION_TABLE, ensure_schema
from zorgbroker.fhir.store import FhirStore, LoadError
from zorgbroker.registry.database import engine_for
from zorgbroker.settings import get_settings

PATIENT = GGZ / "resources" / "ggz-nl-core-patient-XXX-Bals.xml"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = engine_for(f"sqlite:///{tmp_path}/fhir.sqlite3")
    ensure_schema(engine)
    return engine


def count(engine: Engine, table: type[StoredResource] | type[SearchIndex]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    ("text", "filled"),
    [
        ("${DATE, T, D, -50}T11:25:00+02:00", "2026-10-18T11:25:00+02:00"),
        ("${DATE, T, Y, -40}", "1986-12-07"),
        ("${DATE,T,M,+3} - ${DATE, T, D, 0}", "2027-03-07 - 2026-12-07"),
        ("${UUID}", "${UUID}"),
    ],
)
def test_date_placeholders(text: str, filled: str) -> None:
    assert fill_dates(text, LOAD_DATE) == filled


def test_a_year_back_from_29_february() -> None:
    assert fill_dates("${DATE, T, Y, -1}", dt.date(2028, 2, 29)) == "2027-02-28"


def test_load_fills_dates_and_indexes(engine: Engine) -> None:
    store = FhirStore(engine)
    assert store.load_files([GGZ / "resources"], LOAD_DATE) == 48
    with engine.connect() as conn:
        bodies = conn.execute(select(StoredResource.body)).scalars().all()
    assert not any("${" in body for body in bodies)
    assert count(engine, SearchIndex) > 48


def test_reloading_replaces_instead_of_duplicating(engine: Engine) -> None:
    store = FhirStore(engine)
    store.load_files([GGZ / "resources"], LOAD_DATE)
    rows, index = count(engine, StoredResource), count(engine, SearchIndex)
    store.load_files([GGZ / "resources"], LOAD_DATE)
    assert (count(engine, StoredResource), count(engine, SearchIndex)) == (rows, index)


def test_json_loads_like_xml(engine: Engine, tmp_path: Path) -> None:
    observation = {
        "resourceType": "Observation",
        "id": "json-1",
        "status": "final",
        "meta": {"profile": ["http://nictiz.nl/fhir/StructureDefinition/zib-TobaccoUse"]},
        "code": {
            "coding": [
                {"system": "http://snomed.info/sct", "code": "365980008", "display": "Tabakgebruik"}
            ]
        },
        "subject": {"reference": "Patient/XXX-Bals", "display": "Bals"},
        "effectiveDateTime": "${DATE, T, D, -1}",
    }
    path = tmp_path / "obs.json"
    path.write_text(json.dumps(observation))
    FhirStore(engine).load_files([PATIENT, path], LOAD_DATE)
    client = TestClient(create_app(FhirService(engine, StaticTokenVerifier(TOKENS))))
    bundle = client.get("/Observation?code=http://snomed.info/sct|365980008", headers=auth())
    assert [e["resource"]["effectiveDateTime"] for e in bundle.json()["entry"]] == ["2026-12-06"]


def test_a_bsn_value_is_never_served(engine: Engine, tmp_path: Path) -> None:
    """Nictiz's fixtures mask the BSN; a source system's patient carries it in full."""
    text = PATIENT.read_text().replace(
        '<value>\n      <extension url="http://hl7.org/fhir/StructureDefinition/data-absent-reason">'
        '\n        <valueCode value="masked"/>\n      </extension>\n    </value>',
        '<value value="999911478"/>',
    )
    assert 'value="999911478"' in text
    unmasked = tmp_path / "patient.xml"
    unmasked.write_text(text)
    FhirStore(engine).load_files([unmasked], LOAD_DATE)
    client = TestClient(create_app(FhirService(engine, StaticTokenVerifier(TOKENS))))
    for accept in ("application/fhir+json", "application/fhir+xml"):
        response = client.get("/Patient", headers=auth(Accept=accept))
        assert response.status_code == 200
        assert "XXX-Bals" in response.text
        assert "999911478" not in response.text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("<Patient xmlns='http://hl7.org/fhir'><id value='x'/>", "geen geldige XML"),
        ("<Patient><id value='x'/></Patient>", "namespace"),
        ("<Unicorn xmlns='http://hl7.org/fhir'/>", "onbekend resourcetype 'Unicorn'"),
        (
            "<Patient xmlns='http://hl7.org/fhir'><birthDate value='morgen'/></Patient>",
            "geen geldige Patient",
        ),
        ('{"resourceType": "Patient"}', "een Patient zonder id"),
        ("{not json", "geen geldige JSON"),
    ],
)
def test_a_bad_file_is_named_and_nothing_is_loaded(
    engine: Engine, tmp_path: Path, content: str, reason: str
) -> None:
    bad = tmp_path / "kapot.xml"
    bad.write_text(content)
    with pytest.raises(LoadError) as error:
        FhirStore(engine).load_files([PATIENT, bad], LOAD_DATE)
    assert error.value.message.startswith("kapot.xml: ")
    assert reason in error.value.message
    assert count(engine, StoredResource) == 0


def test_own_version_table_beside_the_registry(engine: Engine) -> None:
    from zorgbroker.registry.registry_db import CHAIN

    with engine.begin() as conn:
        CHAIN.upgrade(conn)
    ensure_schema(engine)
    tables = set(inspect(engine).get_table_names())
    assert {VERSION_TABLE, "alembic_version", "fhir_resource", "fhir_access_log"} <= tables
    with engine.connect() as conn:
        fhir = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar_one()
        registry = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one()
    assert fhir == "fhir0002"
    assert registry != fhir


def test_cli_load_reports_a_bad_file_in_dutch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZORGBROKER_DATABASE_URL", raising=False)
    get_settings(fresh=True)
    bad = tmp_path / "kapot.json"
    bad.write_text("{")
    result = CliRunner().invoke(fhir_app, ["load", str(PATIENT), str(bad)])
    assert result.exit_code == 1
    assert "kapot.json: geen geldige JSON; er is niets geladen" in result.stderr
    missing = CliRunner().invoke(fhir_app, ["load", str(tmp_path / "weg.xml")])
    assert missing.exit_code == 2
    assert "bestaat niet" in missing.stderr
    wrong_date = CliRunner().invoke(fhir_app, ["load", str(PATIENT), "--datum", "7-12-2026"])
    assert wrong_date.exit_code == 2
    assert "geen datum" in wrong_date.stderr
