"""NEN 7513 access log, and the demo tokens of `zorgbroker fhir token`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select
from typer.testing import CliRunner

from tests.fhir.conftest import GGZ, LOAD_DATE, Server, auth
from zorgbroker.composition import fhir_service
from zorgbroker.fhir.access_log import accesses_for
from zorgbroker.fhir.cli import fhir_app
from zorgbroker.fhir.models import AccessLogEntry, AccessToken
from zorgbroker.fhir.routes import FhirService, create_app
from zorgbroker.fhir.schema import ensure_schema
from zorgbroker.fhir.store import FhirStore
from zorgbroker.registry.database import engine_for
from zorgbroker.settings import get_settings


def clear_log(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(AccessLogEntry))


def test_every_resource_served_is_logged_for_whom_and_to_which_client(server: Server) -> None:
    clear_log(server.engine)
    response = server.client.get(
        "/Patient?_include=Patient:general-practitioner",
        headers=auth(**{"MedMij-Request-ID": "req-1", "X-Correlation-ID": "corr-1"}),
    )
    assert response.headers["X-Correlation-ID"] == "corr-1"
    served = {
        (e["resource"]["resourceType"], e["resource"]["id"]) for e in response.json()["entry"]
    }
    with server.engine.connect() as conn:
        log = accesses_for(conn, "XXX-Bals")
        others = accesses_for(conn, "XXX-Walsen")
    assert {(a.resource_type, a.resource_id) for a in log} == served
    assert {a.client_id for a in log} == {"pgo-test"}
    assert all(a.query == "/Patient?_include=Patient:general-practitioner" for a in log)
    assert others == []


def test_refused_and_empty_searches_log_nothing(server: Server) -> None:
    clear_log(server.engine)
    server.client.get("/Observation?patient=XXX-Bals", headers=auth())
    server.client.get("/Observation", headers={"Authorization": "Bearer wrong"})
    server.client.get("/Observation?code=http://snomed.info/sct|1", headers=auth())
    with server.engine.connect() as conn:
        assert accesses_for(conn, "XXX-Bals") == []


def test_minted_token_opens_only_its_patients_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    settings = get_settings(fresh=True)
    service = fhir_service(settings)
    FhirStore(service.engine).load_files([GGZ / "resources"], LOAD_DATE)
    minted = CliRunner().invoke(
        fhir_app, ["token", "--patient", "XXX-Walsen", "--scope", "praktijk~24", "--minuten", "5"]
    )
    assert minted.exit_code == 0
    token = minted.stdout.strip()
    client = TestClient(create_app(service))
    bundle = client.get("/Patient", headers={"Authorization": f"Bearer {token}"})
    assert [e["resource"]["id"] for e in bundle.json()["entry"]] == ["XXX-Walsen"]
    # Only its digest is stored.
    with service.engine.connect() as conn:
        stored = conn.execute(select(AccessToken.token_hash)).scalars().all()
    assert token not in stored and len(stored) == 1


def test_concurrent_requests_share_commits_and_lose_no_entry(server: Server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from zorgbroker.fhir.access_log import AccessLogWriter

    clear_log(server.engine)
    writer = AccessLogWriter(server.engine)
    at = dt.datetime.now(dt.UTC)

    def one(number: int) -> None:
        writer.write(
            [
                {
                    "at": at,
                    "patient_id": "XXX-Bals",
                    "client_id": f"c{number}",
                    "resource_type": "Patient",
                    "resource_id": "XXX-Bals",
                    "request_id": None,
                    "correlation_id": None,
                    "query": "/Patient",
                }
            ]
        )

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(200)))
    with server.engine.connect() as conn:
        assert {a.client_id for a in accesses_for(conn, "XXX-Bals")} == {
            f"c{n}" for n in range(200)
        }


def test_a_failed_log_write_fails_the_request(tmp_path: Path) -> None:
    """No resource leaves the server unlogged: without the log table, the search fails."""
    engine = engine_for(f"sqlite:///{tmp_path}/fhir.sqlite3")
    ensure_schema(engine)
    FhirStore(engine).load_files([GGZ / "resources"], LOAD_DATE)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE fhir_access_log")
    from tests.fhir.conftest import TOKENS
    from zorgbroker.fhir.auth import StaticTokenVerifier

    client = TestClient(
        create_app(FhirService(engine, StaticTokenVerifier(TOKENS))), raise_server_exceptions=False
    )
    response = client.get("/Patient", headers=auth())
    assert response.status_code == 500
    assert "XXX-Bals" not in response.text
