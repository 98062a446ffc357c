"""`zorgbroker fhir serve --workers 2`: several processes on one port answer searches with a
token `zorgbroker fhir token` minted, and with a certificate they still refuse TLS below 1.2."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.fhir.conftest import GGZ, LOAD_DATE
from tests.fhir.test_tls import handshake, self_signed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def zorgbroker(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "zorgbroker", "fhir", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "ZORGBROKER_HOME": str(tmp_path / "home")}
    env.pop("ZORGBROKER_DATABASE_URL", None)
    zorgbroker(env, "load", str(GGZ / "resources"), "--datum", LOAD_DATE.isoformat())
    return env


@contextmanager
def started(env: dict[str, str], port: int, *extra: str) -> Iterator[subprocess.Popen[str]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "zorgbroker", "fhir", "serve", "--port", str(port), *extra],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                time.sleep(0.2)
        yield server
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.slow
def test_two_workers_answer_searches_with_a_minted_token(home: dict[str, str]) -> None:
    token = zorgbroker(home, "token", "--patient", "XXX-Bals", "--scope", "praktijk~24")
    port = free_port()
    with started(home, port, "--workers", "2") as server:
        for _ in range(4):  # new connections, so both workers are likely asked
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                found = client.get(
                    "/Patient", headers={"Authorization": f"Bearer {token}"}
                ).raise_for_status()
                assert found.json()["entry"][0]["resource"]["id"] == "XXX-Bals"
                refused = client.get("/Patient", headers={"Authorization": "Bearer nep"})
                assert refused.status_code == 401
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(children) >= 2  # the workers, besides uvicorn's supervisor


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_workers_with_a_certificate_refuse_tls_11(home: dict[str, str], tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port()
    tls = ("--tls-certificaat", str(cert), "--tls-sleutel", str(key), "--workers", "2")
    with started(home, port, *tls):
        assert handshake(port, cert, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
        with pytest.raises(ssl.SSLError) as refused:
            handshake(port, cert, ssl.TLSVersion.TLSv1_1)
        if "NO_PROTOCOLS_AVAILABLE" in str(refused.value).upper():
            pytest.skip("this OpenSSL build cannot offer TLS 1.0/1.1 at all")
        message = str(refused.value).lower()
        assert "alert protocol version" in message or "unexpected_eof" in message
