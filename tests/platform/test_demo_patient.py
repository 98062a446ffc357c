"""`zorgbroker demo` seeds a patient account linked to the GGZ qualification patient: it signs
in, has no roles, and sees a PGO's search in "Wie heeft mijn gegevens opgevraagd" once the record
is loaded and a token minted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.accounts.conftest import HOME
from tests.fhir.conftest import GGZ, LOAD_DATE
from zorgbroker.composition import (
    account_services,
    fhir_engine,
    fhir_oauth_store,
    fhir_service,
    patient_access,
)
from zorgbroker.fhir.routes import create_app
from zorgbroker.fhir.store import FhirStore
from zorgbroker.platform.cli import _demo_patient
from zorgbroker.platform.demo import KeptInvitations
from zorgbroker.settings import Settings, get_settings

URL = "http://localhost:8000"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZORGBROKER_DATABASE_URL", raising=False)
    return get_settings(fresh=True)


def test_the_demo_patient_signs_in_and_sees_who_fetched_the_record(settings: Settings) -> None:
    patient = _demo_patient(settings, URL, KeptInvitations())
    again = _demo_patient(settings, URL, KeptInvitations())  # a second demo start
    assert again == patient
    accounts = account_services(settings, URL)
    user_id = accounts.accounts.find_user(patient.email)
    assert user_id is not None
    assert accounts.accounts.user(user_id).roles == frozenset()
    accounts.authentication.sign_in(None, patient.email, patient.password, HOME)
    assert fhir_oauth_store(fhir_engine(settings)).patient_of(user_id) == "XXX-Bals"

    FhirStore(fhir_engine(settings)).load_files([GGZ / "resources"], LOAD_DATE)
    token = fhir_oauth_store(fhir_engine(settings)).issue_token(
        client_id="demo", patient_id="XXX-Bals", scope="praktijk~24",
        lifetime=dt.timedelta(minutes=15),
    )  # fmt: skip
    access = patient_access(settings)
    assert access.fetches("XXX-Bals") == []
    with TestClient(create_app(fhir_service(settings))) as client:
        found = client.get("/Condition", headers={"Authorization": f"Bearer {token}"})
    assert found.status_code == 200 and found.json()["total"] > 0
    fetched = access.fetches(access.patient_of(user_id) or "")
    assert len(fetched) == 1
    assert ("Condition", found.json()["total"]) in fetched[0].resources
