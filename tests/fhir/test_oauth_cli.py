"""`zorgbroker fhir patient-koppelen`: an account becomes the patient who consents."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.accounts.conftest import HOME
from zorgbroker.accounts.standins import MemoryMailer
from zorgbroker.composition import account_services, fhir_engine, fhir_oauth_store
from zorgbroker.fhir.cli import fhir_app
from zorgbroker.settings import get_settings


def test_linking_an_account_to_a_patient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    settings = get_settings(fresh=True)
    services = account_services(settings, "http://localhost", mailer=MemoryMailer())
    practice = services.accounts.create_organisation("Praktijk patiënten")
    user_id = services.accounts.invite(None, practice, "bals@voorbeeld.nl", "Bals", (), HOME)

    unknown = CliRunner().invoke(
        fhir_app, ["patient-koppelen", "--email", "niemand@voorbeeld.nl", "--patient", "XXX-Bals"]
    )
    assert unknown.exit_code != 0
    assert "geen account met e-mailadres niemand@voorbeeld.nl" in unknown.output

    linked = CliRunner().invoke(
        fhir_app, ["patient-koppelen", "--email", "bals@voorbeeld.nl", "--patient", "XXX-Bals"]
    )
    assert linked.exit_code == 0, linked.output
    assert "gekoppeld aan patiënt XXX-Bals" in linked.stdout
    assert fhir_oauth_store(fhir_engine(settings)).patient_of(user_id) == "XXX-Bals"


def test_a_demo_token_needs_a_scope_that_is_offered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    get_settings(fresh=True)
    refused = CliRunner().invoke(
        fhir_app, ["token", "--patient", "XXX-Bals", "--scope", "praktijk~ggz"]
    )
    assert refused.exit_code == 2
    assert "--scope 'praktijk~ggz' wordt hier niet aangeboden" in refused.output
    assert "praktijk~1, praktijk~3, praktijk~24" in refused.output
