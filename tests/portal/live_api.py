"""The portal with its API served by uvicorn on a loopback port, on one SQLite database (the
registry's and the accounts' tables, as the demo has them), with an in-process TTP, a file store
in a temporary folder and a fixed clock. Two hospitals and the registry, each with a user holding
an API token.

Every request body the server receives is kept (`LiveApi.bodies`), so a test can scan what
crossed the wire for identifiers.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine

from tests.accounts.conftest import demo_sqlite_engine, standin_services
from tests.registry.conftest import AGB, OTHER_AGB
from zorgbroker.accounts.interfaces import RequestContext
from zorgbroker.accounts.models import REGISTRY_ADMIN, UPLOADER
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer
from zorgbroker.portal.app import create_app
from zorgbroker.pseudonymisation.client import LocalTTP
from zorgbroker.pseudonymisation.relay import Stage1Relay
from zorgbroker.registry.registry_db import open_registry_database
from zorgbroker.uploads.access_log import UploadAccessLog
from zorgbroker.uploads.files import LocalFileStore
from zorgbroker.uploads.service import UploadService

#: The upload service's "now": the test files' dates are checked against this day.
NOW = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.UTC)
TODAY = NOW.date()
SYSTEM = RequestContext(address="127.0.0.1", user_agent="test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class BodyRecorder:
    """ASGI middleware keeping every request body chunk the application received, in order
    (a test scans them joined; chunks of concurrent requests may interleave)."""

    def __init__(self, app: Any, bodies: list[bytes]) -> None:
        self.app = app
        self.bodies = bodies

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def recording() -> Any:
            # Kept as it arrives: a request's answer (and the test's next look) may come before
            # the application is done with it (processing after the 202).
            message = await receive()
            if message["type"] == "http.request":
                self.bodies.append(message.get("body", b""))
            return message

        await self.app(scope, recording, send)


class QueueSwitch:
    """The dispatcher: inline, or (`down = True`) a queue that cannot be reached."""

    def __init__(self) -> None:
        self.down = False

    @property
    def in_background(self) -> bool:
        return self.down

    def dispatch(self, upload_id: int, job: Callable[[int], object]) -> None:
        if self.down:
            from zorgbroker.jobs.config import QueueUnavailable

            raise QueueUnavailable("de wachtrij is niet bereikbaar")
        job(upload_id)


@dataclass
class LiveApi:
    url: str
    home: Path
    services: AccountServices
    uploads: UploadService
    access_log: UploadAccessLog
    registry: Engine
    store: Path
    clock: FrozenClock
    ttp: LocalTTP
    queue: QueueSwitch
    #: user id and token per name: "a" (hospital A), "b" (hospital B), "admin" (the registry).
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    bodies: list[bytes] = field(default_factory=list, repr=False)
    app: Any = None

    def api_state(self) -> Any:
        """The mounted API application's state (its limits)."""
        from starlette.routing import Mount

        from zorgbroker.portal.api.app import PREFIX

        mount = next(r for r in self.app.routes if isinstance(r, Mount) and r.path == PREFIX)
        return mount.app.state  # type: ignore[attr-defined]

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.api, headers=headers, timeout=60)

    def stored_files(self) -> list[Path]:
        return [p for p in self.store.rglob("*") if p.is_file()]


def _user(services: AccountServices, organisation: int, email: str, roles: tuple[str, ...]) -> int:
    services.accounts.invite(None, organisation, email, email.split("@")[0], roles, SYSTEM)
    found = services.accounts.find_user(email)
    assert found is not None
    return found


@pytest.fixture
def live_api(tmp_path: Path) -> Iterator[LiveApi]:
    database = tmp_path / "platform.sqlite3"
    registry = open_registry_database(f"sqlite:///{database}", create=True)
    accounts = demo_sqlite_engine(database)
    clock = FrozenClock()
    services = standin_services(accounts, clock, MemoryMailer())
    store = tmp_path / "store"
    queue = QueueSwitch()
    ttp = LocalTTP(tmp_path)  # its state in tmp_path / "ttp", as the embedded TTP of a home
    uploads = UploadService(
        engine=registry,
        files=LocalFileStore(store),
        relays=partial(Stage1Relay.for_mode, ttp=ttp),
        dispatcher=queue,
        clock=lambda: NOW,
    )
    access_log = UploadAccessLog(registry, lambda: NOW)  # reads what the upload service logs
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    live = LiveApi(url, tmp_path, services, uploads, access_log, registry, store, clock, ttp, queue)
    org_a = services.accounts.create_organisation("Ziekenhuis A", agb=AGB)
    org_b = services.accounts.create_organisation("Ziekenhuis B", agb=OTHER_AGB)
    org_r = services.accounts.create_organisation("Registratie", is_registry=True)
    for name, org, roles in (
        ("a", org_a, (UPLOADER,)),
        ("b", org_b, (UPLOADER,)),
        ("admin", org_r, (REGISTRY_ADMIN,)),
    ):
        live.users[name] = _user(services, org, f"{name}@example.nl", roles)
        live.tokens[name] = services.api_tokens.create(live.users[name], "server", SYSTEM).secret
    app = create_app(services, origin=url, uploads=uploads)
    live.app = app
    served = BodyRecorder(app, live.bodies)
    server = uvicorn.Server(
        uvicorn.Config(served, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield live
    server.should_exit = True
    thread.join(timeout=30)
    registry.dispose()
    accounts.dispose()


def wait_done(client: httpx.Client, upload_id: int, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        found: dict[str, Any] = client.get(f"/uploads/{upload_id}").json()
        if found["status"] in ("done", "failed", "stopped"):
            return found
        assert time.monotonic() < deadline, f"upload {upload_id} still {found['status']}"
        time.sleep(0.1)
