"""The portal served by uvicorn in a thread, driven by Debian's Chromium through Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Without it the tests
are skipped, saying why. The services run on a frozen clock the tests advance.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from tests.accounts.conftest import demo_sqlite_engine, standin_services
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer
from zorgbroker.portal.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LivePortal:
    url: str
    services: AccountServices
    clock: FrozenClock
    mailer: MemoryMailer
    hospital: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_portal(tmp_path: Path) -> Iterator[LivePortal]:
    port = _free_port()
    # localhost is a secure context to Chromium: __Host- and Secure cookies work over http.
    url = f"http://localhost:{port}"
    engine = demo_sqlite_engine(tmp_path / "portal.db")
    clock, mailer = FrozenClock(), MemoryMailer()
    services = standin_services(engine, clock, mailer, base_url=url)
    hospital = services.accounts.create_organisation("Ziekenhuis Rivierenland")
    app = create_app(services, origin=url, demo_mailbox=mailer)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield LivePortal(url, services, clock, mailer, hospital)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


# Package scope, not session: while Playwright's sync API is open, asyncio sees a running event
# loop in the main thread, and later tests that call asyncio.run() (the worker) would fail.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium ontbreekt: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()
