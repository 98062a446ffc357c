"""The TTP service over real loopback HTTP (uvicorn in a thread)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest

from tests.pseudonymisation.conftest import BSNS
from zorgbroker.pseudonymisation.client import HttpTTP, LocalTTP
from zorgbroker.pseudonymisation.errors import (
    BatchRejected,
    BatchTooLarge,
    Forbidden,
    NotAuthorised,
    RateLimited,
)
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser
from zorgbroker.pseudonymisation.ratelimit import Limits
from zorgbroker.pseudonymisation.service import free_port, serving
from zorgbroker.pseudonymisation.source import stage1
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

SOURCE = "12345678"


@pytest.fixture
def service(ttp: TrustedThirdParty) -> Iterator[tuple[str, str]]:
    token = ttp.add_source(SOURCE)
    with serving(ttp.home) as url:
        yield url, token


def _random_p1(n: int) -> pl.Series:
    return stage1(pl.Series([f"{i:09d}" for i in range(n)]), key=secrets.token_bytes(32))


def test_a_batch_of_ten_thousand_over_http_matches_in_process(
    service: tuple[str, str], home: Path
) -> None:
    url, token = service
    p1 = _random_p1(12_000)
    with HttpTTP(url, token, batch_size=12_000) as client:
        remote = client.pseudonymise("nivel", p1, source=SOURCE)
        info = client.key_info("nivel")
    local = LocalTTP(home).pseudonymise("nivel", p1, source=SOURCE)
    assert remote.to_list() == local.to_list()
    assert info.version == "k1" and remote[0].startswith("zb2:nivel:k1:")


def test_nulls_and_chunking_keep_rows_in_place(service: tuple[str, str]) -> None:
    url, token = service
    p1 = _random_p1(10)
    with_nulls = p1.scatter([2, 7], None)
    with HttpTTP(url, token, batch_size=3) as client:
        got = client.pseudonymise("nivel", with_nulls, source=SOURCE)
        whole = client.pseudonymise("nivel", p1, source=SOURCE)
    assert got.is_null().arg_true().to_list() == [2, 7]
    assert got.drop_nulls().to_list() == whole.gather([0, 1, 3, 4, 5, 6, 8, 9]).to_list()


def test_a_plain_bsn_is_refused(service: tuple[str, str]) -> None:
    url, token = service
    batch = _random_p1(5).cast(pl.String).to_list()
    batch[3] = "123456782"
    with HttpTTP(url, token) as client, pytest.raises(BatchRejected) as error:
        client.pseudonymise("nivel", pl.Series(batch), source=SOURCE)
    assert "Regel 4" in error.value.message and "BSN" in error.value.message
    assert "123456782" not in error.value.message


def test_anything_but_a_stage1_pseudonym_is_refused(service: tuple[str, str]) -> None:
    url, token = service
    for body in [b"hallo\n", b"A" * 64 + b"\n", b"0" * 63 + b"\n", "é".encode()]:
        response = httpx.post(
            f"{url}/v1/registries/nivel/pseudonyms",
            content=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 422, body


def test_authentication_per_source_organisation(ttp: TrustedThirdParty, home: Path) -> None:
    good = ttp.add_source(SOURCE)
    ttp.add_source("87654321")
    p1 = _random_p1(3)
    with serving(home) as url:
        with HttpTTP(url, "12345678.verkeerd") as client, pytest.raises(NotAuthorised):
            client.pseudonymise("nivel", p1, source=SOURCE)
        with HttpTTP(url, good) as client, pytest.raises(Forbidden):
            client.pseudonymise("nivel", p1, source="87654321")
        assert httpx.post(f"{url}/v1/registries/nivel/pseudonyms", content=b"").status_code == 401


def test_rate_limited_per_organisation(ttp: TrustedThirdParty, home: Path) -> None:
    token = ttp.add_source(SOURCE)
    limits = Limits(requests_per_second=0.001, request_burst=2)
    p1 = _random_p1(3)
    with serving(home, limits=limits) as url, HttpTTP(url, token) as client:
        client.pseudonymise("nivel", p1, source=SOURCE)
        client.pseudonymise("nivel", p1, source=SOURCE)
        with pytest.raises(RateLimited):
            client.pseudonymise("nivel", p1, source=SOURCE)


def test_batch_size_is_capped(ttp: TrustedThirdParty, home: Path) -> None:
    token = ttp.add_source(SOURCE)
    with (
        serving(home, limits=Limits(max_batch=100)) as url,
        HttpTTP(url, token) as client,
        pytest.raises(BatchTooLarge, match="Hoogstens 100"),
    ):
        client.pseudonymise("nivel", _random_p1(101), source=SOURCE)


def test_production_upload_through_the_service_keeps_the_reid_store(
    ttp: TrustedThirdParty, home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    token = ttp.add_source(SOURCE)
    with serving(home) as url:
        monkeypatch.setenv("ZORGBROKER_TTP_URL", url)
        monkeypatch.setenv("ZORGBROKER_TTP_TOKEN", token)
        # The registry's installation has its own home; the TTP's lives elsewhere.
        registry_home = tmp_path / "registry"
        p = Pseudonymiser.for_mode("production", registry="nhr", source=SOURCE, home=registry_home)
        got = p.pseudonymise(pl.Series(BSNS)).to_list()
    assert all(x and x.startswith("zb2:nhr:k1:") for x in got)
    assert not (registry_home / "ttp").exists()
    with ttp.store.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM reid").fetchone()[0] == len(BSNS)


def test_the_serve_command_starts_the_service(ttp: TrustedThirdParty, home: Path) -> None:
    token = ttp.add_source(SOURCE)
    port = free_port()
    program = "from zorgbroker.pseudonymisation.cli import ttp_app; ttp_app()"
    process = subprocess.Popen(
        [sys.executable, "-c", program, "serve", "--port", str(port)],
        env={**os.environ, "ZORGBROKER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(f"{url}/v1/health")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        with HttpTTP(url, token) as client:
            got = client.pseudonymise("nivel", _random_p1(3), source=SOURCE)
        assert got.str.starts_with("zb2:nivel:k1:").all()
    finally:
        process.terminate()
        process.wait(timeout=30)
