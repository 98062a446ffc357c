"""The portal with its upload service, for the upload pages' tests: accounts on the demo's
SQLite engine, a registry database of its own, an in-process TTP, uploads processed in the
request's background task, and mail kept in a list. Two organisations: a hospital (AGB 01234567)
and another one (07654321), plus the registry."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.accounts.conftest import demo_sqlite_engine, standin_services
from tests.intake.conftest import write_csv
from tests.portal.conftest import ORIGIN, SYSTEM, csrf
from tests.registry.conftest import AGB, NHR_HEADER, OTHER_AGB, serial_rows
from tests.stage1 import stage1_of
from zorgbroker.accounts.models import REGISTRY_ADMIN, UPLOADER
from zorgbroker.accounts.policy import DEFAULT_POLICY
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer
from zorgbroker.intake.api import Report
from zorgbroker.portal.app import create_app
from zorgbroker.pseudonymisation.client import LocalTTP
from zorgbroker.pseudonymisation.relay import Stage1Relay
from zorgbroker.registry.registry_db import open_registry_database
from zorgbroker.uploads.files import LocalFileStore
from zorgbroker.uploads.models import UploadInfo
from zorgbroker.uploads.service import UploadService
from zorgbroker.uploads.tasks import Inline

PASSWORD = "vlinder kompas regenjas toren"
NO_TWO_STEP = dataclasses.replace(DEFAULT_POLICY, two_step_required=False)


class Letters:
    """The uploads' mailer: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[UploadInfo, Report | None]] = []

    def upload_finished(self, info: UploadInfo, report: Report | None) -> object:
        self.sent.append((info, report))
        return "sent"


@dataclass
class UploadPortal:
    app: FastAPI
    services: AccountServices
    mailer: MemoryMailer
    uploads: UploadService
    registry: Engine
    letters: Letters
    folder: Path
    hospital: int
    other: int
    registry_org: int

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=ORIGIN, follow_redirects=False)

    def signed_in(
        self, organisation: int, email: str, roles: tuple[str, ...] = (UPLOADER,)
    ) -> TestClient:
        """A client signed in as a new user of `organisation` (no second step asked)."""
        self.services.accounts.invite(None, organisation, email, "Gebruiker", roles, SYSTEM)
        body = self.mailer.last_to(email).body
        link = next(line for line in body.splitlines() if "/uitnodiging/" in line)
        link = link.split(ORIGIN, 1)[1]
        client = self.client()
        page = client.get(link)
        post(client, link, page.text, password=PASSWORD, repeat=PASSWORD)
        page = client.get("/aanmelden")
        answer = post(client, "/aanmelden", page.text, email=email, password=PASSWORD)
        assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
        return client

    def export(self, name: str = "export.csv", rows: int = 3, start: int = 0) -> Path:
        return write_csv(self.folder / name, NHR_HEADER, serial_rows(rows, start))

    def stage1(self, export: Path, *, mode: str = "test", agb: str = AGB) -> Path:
        """The stage-1 file the browser would make of `export` (here: as `zorgbroker submit`
        makes it), with BSNs sealed to this portal's TTP."""
        return stage1_of(
            export,
            dataset="nhr-pmicd",
            mode=mode,
            home=self.folder / "source",
            organisation=agb,
            today=dt.date.today(),
            ttp_public_key=LocalTTP(self.folder / "ttp").seal_public_key(),
        )


def post(client: TestClient, path: str, html: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf(html), **data}, headers={"Origin": ORIGIN})


def upload(client: TestClient, file: Path, *, mode: str = "test", dataset: str = "nhr-pmicd"):  # type: ignore[no-untyped-def]
    """POST the file as the browser's stage-1 script does."""
    page = client.get("/aanleveren")
    assert page.status_code == 200, page.text
    with file.open("rb") as handle:
        return client.post(
            "/aanleveren",
            data={"csrf_token": csrf(page.text), "dataset": dataset, "mode": mode},
            files={"bestand": ("stap1.zip", handle, "application/zip")},
            headers={"Origin": ORIGIN},
        )


def build(folder: Path, origin: str = ORIGIN) -> tuple[UploadPortal, list[Engine]]:
    """The portal at `origin` (the browser tests serve it on a port of localhost)."""
    accounts_engine = demo_sqlite_engine(folder / "portal.db")
    clock, mailer = FrozenClock(), MemoryMailer()
    services = standin_services(accounts_engine, clock, mailer, base_url=origin)
    accounts = services.accounts
    hospital = accounts.create_organisation("Ziekenhuis Rivierenland", NO_TWO_STEP, agb=AGB)
    other = accounts.create_organisation("Ziekenhuis Elders", NO_TWO_STEP, agb=OTHER_AGB)
    registry_org = accounts.create_organisation("Registratie", NO_TWO_STEP, is_registry=True)
    registry = open_registry_database(f"sqlite:///{folder / 'registry.sqlite3'}", create=True)
    letters = Letters()
    uploads = UploadService(
        engine=registry,
        files=LocalFileStore(folder / "store"),
        relays=partial(Stage1Relay.for_mode, ttp=LocalTTP(folder / "ttp")),
        dispatcher=Inline(),
        mailer=letters,
    )
    # Handed the upload service, the portal also mounts /api/v1: the route walker covers it too.
    app = create_app(services, origin=origin, demo_mailbox=mailer, uploads=uploads)
    # The key the browser's stage 1 seals BSNs with (the plan route, branch stage1js).
    app.state.seal_public_key = LocalTTP(folder / "ttp").seal_public_key
    portal = UploadPortal(app, services, mailer, uploads, registry, letters, folder, hospital,
                          other, registry_org)  # fmt: skip
    return portal, [accounts_engine, registry]


@pytest.fixture
def upload_portal(tmp_path: Path) -> Iterator[UploadPortal]:
    portal, engines = build(tmp_path)
    yield portal
    for engine in engines:
        engine.dispose()


__all__ = ["REGISTRY_ADMIN", "UPLOADER", "UploadPortal", "post", "upload", "upload_portal"]
