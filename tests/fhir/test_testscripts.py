"""Nictiz's four GGZ 2.0 XIS-Server TestScripts, unchanged, against the server loaded with their
resources; and the runner failing where a server is wrong."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fhir.resources.STU3 import testreport
from typer.testing import CliRunner

from tests.fhir.conftest import GGZ, LOAD_DATE, Server
from zorgbroker.composition import fhir_service
from zorgbroker.fhir.cli import fhir_app
from zorgbroker.fhir.routes import create_app
from zorgbroker.fhir.testscript import TestScriptRunner, build_test_report
from zorgbroker.settings import get_settings

SCRIPTS = sorted((GGZ / "testscripts").glob("medmij-ggz-xis-*.xml"))
VARIABLES = {
    "patient-token-XXX-Bals": "Bearer token-bals",
    "patient-token-XXX-Walsen": "Bearer token-walsen",
}


def profile_validations(script: Path) -> int:
    return script.read_text().count("<validateProfileId ")


def runner(server: Server, variables: dict[str, str] = VARIABLES) -> TestScriptRunner:
    return TestScriptRunner(
        server.client, "http://testserver", variables=variables, today=LOAD_DATE
    )


def test_the_four_scripts_are_there() -> None:
    assert [s.name for s in SCRIPTS] == [
        "medmij-ggz-xis-1-1-serve-json.xml",
        "medmij-ggz-xis-1-1-serve-xml.xml",
        "medmij-ggz-xis-1-2-serve-json.xml",
        "medmij-ggz-xis-1-2-serve-xml.xml",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_ggz_script_passes(server: Server, script: Path) -> None:
    result = runner(server).run(script)

    problems = [
        (t.test_id, a.description, a.message)
        for t in result.tests
        for a in t.actions
        if a.result not in ("pass", "skip")
    ]
    assert problems == []
    assert result.passed
    assert len(result.tests) == 18
    # Only the profile validations are skipped, and each one is.
    assert result.count("skip") == profile_validations(script) == 18
    assert result.count("pass") > 300
    report = build_test_report(result)
    assert report["result"] == "pass"
    testreport.TestReport.model_validate(report)


def test_a_token_for_another_patient_fails_the_counts(server: Server) -> None:
    swapped = {"patient-token-XXX-Bals": "Bearer token-walsen"}
    result = runner(server, swapped).run(GGZ / "testscripts" / "medmij-ggz-xis-1-1-serve-json.xml")

    assert not result.passed
    failed = {a.description for t in result.tests for a in t.actions if a.result == "fail"}
    assert "Confirm that the response Bundle contains 1 Coverage resource(s). " in failed
    assert build_test_report(result)["result"] == "fail"


def canned(bundle: dict[str, Any]) -> httpx.Client:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=bundle, headers={"content-type": "application/fhir+json"})

    return httpx.Client(transport=httpx.MockTransport(respond))


def patient_bundle(bsn_value: str | None, self_url: str) -> dict[str, Any]:
    identifier = {"system": "http://fhir.nl/fhir/NamingSystem/bsn"}
    if bsn_value:
        identifier["value"] = bsn_value
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "identifier": [identifier],
        "meta": {"profile": ["http://fhir.nl/fhir/StructureDefinition/nl-core-patient"]},
        "generalPractitioner": [{"reference": "Practitioner/d", "display": "Dokter"}],
    }
    doctor = {
        "resourceType": "Practitioner",
        "id": "d",
        "meta": {"profile": ["http://fhir.nl/fhir/StructureDefinition/nl-core-practitioner"]},
    }
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 1,
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {"fullUrl": "http://x/Patient/p", "resource": patient, "search": {"mode": "match"}},
            {
                "fullUrl": "http://x/Practitioner/d",
                "resource": doctor,
                "search": {"mode": "include"},
            },
        ],
    }


def first_test_outcomes(client: httpx.Client) -> dict[str, str]:
    script = GGZ / "testscripts" / "medmij-ggz-xis-1-1-serve-json.xml"
    result = TestScriptRunner(client, "http://x", variables=VARIABLES).run(script)
    return {a.description: a.result for a in result.tests[0].actions if a.kind == "assert"}


BSN_ASSERT = "Confirm that Bundle does not use Burgerservicenummer (BSN) anywhere."
SELF_ASSERT = (
    "Confirm that the parameters in the request URL are all handled by the server, by "
    "inspecting the self link."
)


def test_a_bsn_in_the_bundle_fails_the_bsn_assert() -> None:
    good = "http://x/Patient?_include=Patient:general-practitioner"
    assert first_test_outcomes(canned(patient_bundle(None, good)))[BSN_ASSERT] == "pass"
    leaking = first_test_outcomes(canned(patient_bundle("999911478", good)))
    assert leaking[BSN_ASSERT] == "fail"


def test_a_self_link_without_the_parameters_is_a_warning() -> None:
    outcomes = first_test_outcomes(canned(patient_bundle(None, "http://x/Patient")))
    assert outcomes[SELF_ASSERT] == "warning"
    outcomes = first_test_outcomes(
        canned(patient_bundle(None, "http://x/Patient?_include=Patient%3Ageneral-practitioner"))
    )
    assert outcomes[SELF_ASSERT] == "pass"


def test_an_unreachable_server_is_an_error_not_a_traceback() -> None:
    script = GGZ / "testscripts" / "medmij-ggz-xis-1-2-serve-xml.xml"
    with httpx.Client(timeout=2) as client:
        result = TestScriptRunner(client, f"http://127.0.0.1:{free_port()}").run(script)
    assert not result.passed
    assert {t.actions[-1].result for t in result.tests} == {"error"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`zorgbroker fhir load` into a fresh SQLite home, then the server on a loopback port."""
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZORGBROKER_DATABASE_URL", raising=False)
    get_settings(fresh=True)
    loaded = CliRunner().invoke(
        fhir_app, ["load", str(GGZ / "resources"), "--datum", LOAD_DATE.isoformat()]
    )
    assert loaded.exit_code == 0, loaded.output
    assert "48 resources geladen uit 48 bestanden." in loaded.stdout
    port = free_port()
    app = create_app(fhir_service(get_settings(fresh=True)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.slow
def test_the_cli_runs_a_script_over_http_with_a_minted_token(
    live_server: str, tmp_path: Path
) -> None:
    cli = CliRunner()
    minted = cli.invoke(fhir_app, ["token", "--patient", "XXX-Walsen", "--scope", "praktijk~24"])
    assert minted.exit_code == 0
    token = minted.stdout.strip()
    script = GGZ / "testscripts" / "medmij-ggz-xis-1-2-serve-xml.xml"
    reports = tmp_path / "reports"

    result = cli.invoke(
        fhir_app,
        [
            "testscript",
            str(script),
            "--server",
            live_server,
            "--variabele",
            f"patient-token-XXX-Walsen=Bearer {token}",
            "--rapport",
            str(reports),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "GESLAAGD" in result.stdout
    assert "0 mislukt" in result.stdout and "18 overgeslagen" in result.stdout
    report = json.loads((reports / "medmij-ggz-xis-1-2-serve-xml-testreport.json").read_text())
    assert report["result"] == "pass"

    forged = "patient-token-XXX-Walsen=Bearer forged"
    wrong = cli.invoke(
        fhir_app, ["testscript", str(script), "--server", live_server, "--variabele", forged]
    )
    assert wrong.exit_code == 1
    assert "MISLUKT" in wrong.stdout
