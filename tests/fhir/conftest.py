"""The FHIR store on SQLite and on a fresh PostgreSQL database, loaded with Nictiz's
qualification fixtures, and a server over it with tokens for the qualification patients."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.registry.conftest import new_postgres_database
from zorgbroker.fhir.auth import Grant, StaticTokenVerifier
from zorgbroker.fhir.routes import FhirService, create_app
from zorgbroker.fhir.schema import ensure_schema
from zorgbroker.fhir.store import FhirStore
from zorgbroker.registry.database import engine_for

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "nictiz-stu3"
GGZ = FIXTURES / "qualification-ggz-2-0"
MEDICATION = FIXTURES / "qualification-medication-9-0-7"
LOAD_DATE = dt.date(2026, 12, 7)
CLIENT = "pgo-test"

#: Bearer tokens of the tests, one per qualification patient.
TOKENS = {
    "token-bals": Grant("XXX-Bals", "praktijk~24", CLIENT),
    "token-walsen": Grant("XXX-Walsen", "praktijk~24", CLIENT),
    "token-dirksz": Grant("XXX-DIRKSZ", "praktijk~3", CLIENT),
    "token-bals-medicatie": Grant("XXX-Bals", "praktijk~3", CLIENT),
}
BSNS = ("999911478", "999911491", "999911326")


def auth(token: str = "token-bals", **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


@dataclass
class Server:
    engine: Engine
    client: TestClient
    backend: str


@pytest.fixture(scope="session")
def fhir_postgres_url() -> Iterator[str]:
    with new_postgres_database() as url:
        yield url


def loaded_engine(url: str) -> Engine:
    engine = engine_for(url)
    ensure_schema(engine)
    FhirStore(engine).load_files([GGZ / "resources", MEDICATION / "resources"], LOAD_DATE)
    return engine


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return loaded_engine(f"sqlite:///{tmp_path_factory.mktemp('fhir')}/fhir.sqlite3")


@pytest.fixture(scope="session")
def postgres_engine(fhir_postgres_url: str) -> Engine:
    return loaded_engine(fhir_postgres_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    app = create_app(FhirService(engine, StaticTokenVerifier(TOKENS)))
    with TestClient(app) as client:
        yield Server(engine, client, request.param)
