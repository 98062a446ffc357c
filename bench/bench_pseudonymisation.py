"""Pseudonyms per second: stage 1 and stage 2 in process (and stage 1 as one `hmac.digest` call
per value, for contrast), sealing and opening BSNs for
re-identification (in batches, and one AESSIV call each for contrast), the TTP service over
loopback HTTP in batches, and one at a time for contrast; plus peak memory.

    uv run python bench/bench_pseudonymisation.py [--n 1000000] [--batch 50000]
"""

from __future__ import annotations

import argparse
import hmac
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import polars as pl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from zorgbroker.pseudonymisation.client import HttpTTP
from zorgbroker.pseudonymisation.sealing import SealOpener, seal_bsns
from zorgbroker.pseudonymisation.service import free_port
from zorgbroker.pseudonymisation.source import stage1
from zorgbroker.pseudonymisation.stage2 import stage2
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

_SERVER = """
import sys
from pathlib import Path
from zorgbroker.pseudonymisation.ratelimit import Limits
from zorgbroker.pseudonymisation.service import serve
limits = Limits(requests_per_second=1e9, request_burst=1e9, items_per_second=1e12,
                item_burst=1e12, max_batch=1_000_000)
serve(Path(sys.argv[1]), host="127.0.0.1", port=int(sys.argv[2]), limits=limits)
"""


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>12,.0f} /s"


def _timed(label: str, n: int, action: object, repeat: int = 3) -> object:
    """Best of `repeat` runs: other work on the machine only ever slows a run down."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    print(f"{label:<52}{_rate(n, best)}   ({n:,} in {best:.2f} s, best of {repeat})")
    return result


def _peak_mb(pid: int) -> float:
    """Peak resident memory of another process (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", _SERVER, str(home), str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/health").status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("TTP service did not start")


def _sealing(bsns: pl.Series, p1: pl.Series, n: int) -> None:
    """Sealing at the source and opening at the TTP (re-identifiable registries): zorgbroker's
    batch AES-SIV against one `cryptography` AESSIV call per BSN, the obvious way to write it."""
    ttp_key = X25519PrivateKey.generate()
    public = ttp_key.public_key().public_bytes_raw()
    sealed = _timed(
        "sealing at the source, AES-SIV in batches",
        n,
        lambda: seal_bsns(bsns, p1, ttp_public_key=public, registry="nhr"),
    )
    assert isinstance(sealed, pl.Series)
    siv = AESSIV(secrets.token_bytes(64))
    plain, ad = bsns.cast(pl.Binary).to_list(), p1.str.decode("hex").to_list()
    _timed(
        "sealing, one AESSIV call per BSN (for comparison)",
        n,
        lambda: [siv.encrypt(b, [b"nhr", a]) for b, a in zip(plain, ad, strict=True)],
    )
    opener = SealOpener(ttp_key)
    _timed(
        "opening at the TTP, AES-SIV in batches",
        n,
        lambda: opener.open(sealed, p1, registry="nhr"),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--single", type=int, default=2_000, help="one-at-a-time requests")
    args = parser.parse_args()
    n = args.n

    bsns = pl.select((pl.int_range(n) * 7 + 100_000_000).cast(pl.String).alias("bsn")).to_series()
    source_key, registry_key = secrets.token_bytes(32), secrets.token_bytes(32)
    print(
        f"pseudonymisation benchmark, {n:,} values, python {sys.version.split()[0]}, "
        f"polars {pl.__version__}, {os.cpu_count()} cores\n"
    )

    p1 = _timed("stage 1 in process (HMAC, all cores)", n, lambda: stage1(bsns, key=source_key))
    assert isinstance(p1, pl.Series)
    messages = [f"bsn|{b}".encode() for b in bsns.to_list()]
    _timed(
        "stage 1, one hmac.digest call per value (for comparison)",
        n,
        lambda: [hmac.digest(source_key, m, "sha256").hex() for m in messages],
    )
    _timed(
        "stage 2 in process (HMAC + label, all cores)",
        n,
        lambda: stage2(p1, key=registry_key, prefix="zb2:nivel:k1:"),
    )

    _sealing(bsns, p1, n)

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        ttp = TrustedThirdParty(home)
        ttp.init(["nivel"])
        _timed(
            "TTP in process (checks, stage 2, audit)",
            n,
            lambda: ttp.pseudonymise("nivel", p1, source="bench"),
        )
        token = ttp.add_source("bench")
        server, url = _start_server(home)
        try:
            with HttpTTP(url, token, batch_size=args.batch) as client:
                client.pseudonymise("nivel", p1.head(1000), source="bench")  # warm up
                _timed(
                    f"service over loopback HTTP, batches of {args.batch:,}",
                    n,
                    lambda: client.pseudonymise("nivel", p1, source="bench"),
                )
            single = p1.head(args.single).to_list()
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:

                def one_at_a_time() -> None:
                    for item in single:
                        r = http.post("/v1/registries/nivel/pseudonyms", content=item.encode())
                        r.raise_for_status()

                _timed(
                    "service over loopback HTTP, one per request",
                    len(single),
                    one_at_a_time,
                    repeat=1,
                )
            service_peak = _peak_mb(server.pid)
        finally:
            server.terminate()
            server.wait()

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory: benchmark process {own:,.0f} MB, service process {service_peak:,.0f} MB")


if __name__ == "__main__":
    main()
