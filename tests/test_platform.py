"""The platform wired by the composition root: the accounts key, the purge of expired sessions,
the demo's set-up run twice, and `zorgbroker serve` (PostgreSQL only, with its public address)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.accounts.conftest import postgres_url  # noqa: F401 (a fixture)
from zorgbroker.accounts.models import WebSession
from zorgbroker.composition import account_services, accounts_secret_box, portal_app
from zorgbroker.platform.demo import DEMO_USERS, HOSPITAL, KeptInvitations, set_up
from zorgbroker.settings import Settings


def settings_in(tmp_path: Path, **values: object) -> Settings:
    return Settings(home=tmp_path / "home", **values)  # type: ignore[arg-type]


def test_the_accounts_key_is_made_once_readable_by_the_owner_only(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    sealed = accounts_secret_box(settings).encrypt(b"JBSWY3DPEHPK3PXP")

    assert accounts_secret_box(settings).decrypt(sealed) == b"JBSWY3DPEHPK3PXP"
    assert stat.S_IMODE(settings.accounts_key_file.stat().st_mode) == 0o600


def test_a_configured_accounts_key_is_used_and_no_file_is_made(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet, InvalidToken

    key = Fernet.generate_key()
    settings = settings_in(tmp_path, accounts_secret_key=key.decode())

    sealed = accounts_secret_box(settings).encrypt(b"geheim")

    assert Fernet(key).decrypt(sealed) == b"geheim"
    assert not settings.accounts_key_file.exists()
    with pytest.raises(InvalidToken):
        accounts_secret_box(settings_in(tmp_path)).decrypt(sealed)


def test_the_demo_set_up_runs_twice_and_its_users_can_sign_in(tmp_path: Path) -> None:
    from zorgbroker.accounts.interfaces import RequestContext

    settings = settings_in(tmp_path)
    url = "http://localhost:8000"
    for _ in range(2):
        invitations = KeptInvitations()
        set_up(account_services(settings, url, mailer=invitations).accounts, invitations)
    services = account_services(settings, url)

    hospital = services.accounts.find_organisation(HOSPITAL)
    assert hospital is not None
    assert not services.accounts.organisation_policy(hospital).two_step_required
    assert [u.email for u in services.accounts.users(hospital)] == [DEMO_USERS[1].email]
    for user in DEMO_USERS:
        result = services.authentication.sign_in(
            None, user.email, user.password, RequestContext(address="127.0.0.1")
        )
        assert result.step == "signed_in"


def test_the_portal_purges_expired_sessions_at_start_up(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    services = account_services(settings, "http://localhost:8000")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    with services.db.begin() as s:
        s.add(
            WebSession(
                id_hash=b"x" * 32, csrf_secret="c", created_at=long_ago, last_seen_at=long_ago,
                ended_at=long_ago, end_reason="signed_out",
            )
        )  # fmt: skip
    app = portal_app(settings, services, origin="http://localhost:8000", purge_every=3600)

    with TestClient(app, base_url="https://localhost:8000"):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with services.db() as s:
                left = s.scalar(select(func.count()).select_from(WebSession))
            if left == 0:
                break
            time.sleep(0.05)
    assert left == 0


def zorgbroker(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "ZORGBROKER_HOME": str(tmp_path / "home"), **env}
    return subprocess.run(
        [sys.executable, "-m", "zorgbroker", *args],
        capture_output=True, text=True, env=environment, check=False, timeout=120,
    )  # fmt: skip


def test_serve_refuses_sqlite(tmp_path: Path) -> None:
    done = zorgbroker(tmp_path, "serve", ZORGBROKER_PORTAL_URL="https://portaal.example.nl")

    assert done.returncode == 2
    assert "zorgbroker serve draait tegen PostgreSQL" in done.stderr
    assert "zorgbroker demo" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
def test_serve_asks_for_the_public_address(tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    done = zorgbroker(tmp_path, "serve", ZORGBROKER_DATABASE_URL=postgres_url)

    assert done.returncode == 2
    assert "stel ZORGBROKER_PORTAL_URL in" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_portal_url_with_a_path_is_refused(tmp_path: Path) -> None:
    done = zorgbroker(tmp_path, "serve", ZORGBROKER_PORTAL_URL="https://example.nl/portaal")

    assert done.returncode == 2
    assert "ZORGBROKER_PORTAL_URL" in done.stderr and "zonder pad" in done.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.postgres
def test_serve_runs_two_processes_against_postgresql(tmp_path: Path, postgres_url: str) -> None:  # noqa: F811
    port = _free_port()
    env = {
        **os.environ, "ZORGBROKER_HOME": str(tmp_path / "home"),
        "ZORGBROKER_DATABASE_URL": postgres_url, "ZORGBROKER_PORTAL_URL": "https://portaal.example.nl",
    }  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "zorgbroker", "serve", "--port", str(port), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        answer = None
        deadline = time.monotonic() + 90
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/aanmelden", timeout=5)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, server.stderr.read() if server.stderr else ""
        assert answer.status_code == 200
        assert "Aanmelden" in answer.text
        assert answer.headers["strict-transport-security"]
    finally:
        server.send_signal(signal.SIGINT)
        _, errors = server.communicate(timeout=60)
    assert "Traceback" not in errors


def test_a_malformed_accounts_key_is_a_settings_error_that_does_not_repeat_it(
    tmp_path: Path,
) -> None:
    done = zorgbroker(
        tmp_path, "demo", "--port", str(_free_port()),
        ZORGBROKER_ACCOUNTS_SECRET_KEY="geheim-maar-te-kort",
    )  # fmt: skip

    assert done.returncode == 2
    assert "ZORGBROKER_ACCOUNTS_SECRET_KEY: is geen Fernet-sleutel" in done.stderr
    assert "geheim-maar-te-kort" not in done.stderr and "Traceback" not in done.stderr
