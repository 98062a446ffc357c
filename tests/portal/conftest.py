"""The portal over HTTP (FastAPI's TestClient, https://testserver) on a real SQLite database,
with the accounts services' stand-ins: a frozen clock and the demo mailbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.accounts.conftest import demo_sqlite_engine, standin_services
from zorgbroker.accounts.interfaces import RequestContext
from zorgbroker.accounts.models import ORGANISATION_ADMIN, UPLOADER
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer
from zorgbroker.portal.app import create_app

ORIGIN = "https://testserver"
SYSTEM = RequestContext(address="127.0.0.1", user_agent="test")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Portal:
    services: AccountServices
    clock: FrozenClock
    mailer: MemoryMailer
    hospital: int
    app: object

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=ORIGIN, follow_redirects=False)  # type: ignore[arg-type]

    def invite(
        self, email: str, name: str = "Jan de Vries", roles: tuple[str, ...] = (UPLOADER,)
    ) -> str:
        self.services.accounts.invite(None, self.hospital, email, name, roles, SYSTEM)
        body = self.mailer.last_to(email).body
        link = next(line for line in body.splitlines() if "/uitnodiging/" in line)
        return (
            link.split(ORIGIN, 1)[1] if ORIGIN in link else "/uitnodiging/" + link.rsplit("/", 1)[1]
        )


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


@pytest.fixture
def portal(tmp_path: object) -> Iterator[Portal]:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    engine = demo_sqlite_engine(tmp_path / "portal.db")
    clock, mailer = FrozenClock(), MemoryMailer()
    services = standin_services(engine, clock, mailer, base_url=ORIGIN)
    hospital = services.accounts.create_organisation("Ziekenhuis Rivierenland")
    app = create_app(services, origin=ORIGIN, demo_mailbox=mailer)
    yield Portal(services, clock, mailer, hospital, app)
    engine.dispose()


__all__ = ["ORGANISATION_ADMIN", "Portal", "csrf"]
