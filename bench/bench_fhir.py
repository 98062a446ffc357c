"""Benchmark: the FHIR server under the MedMij GGZ searches, 50 PGO clients at once.

The GGZ 2.0 qualification record of XXX-Bals is copied for `--patients` patients (ids and
references renamed, the shared organisations and practitioners once) into a database, SQLite by
default (`--database` to reuse a file or point at PostgreSQL). The server runs in its own process
processes (`--workers`, uvicorn each, sharing one listening socket on a loopback port).
Access tokens are minted as `zorgbroker fhir token` does (stored digests in the authorisation
server's table) for `--tokens` patients picked at random. `--clients` concurrent clients act as
PGOs: each takes a patient and that patient's token, runs the 18 searches of the GGZ TestScripts
in a random order, then takes the next patient, for `--seconds`. It prints the latency
percentiles per search and overall, requests per second, the load average, and the server
processes' CPU time per request during the run (read from /proc): on a shared machine the CPU
per request is the figure that does not move with what else runs; latency does.

    uv run python bench/bench_fhir.py --patients 10000 --clients 50 --seconds 20 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from zorgbroker.fhir.indexing import compartment
from zorgbroker.fhir.models import StoredResource
from zorgbroker.fhir.oauth.store import OAuthStore, StoredTokenVerifier
from zorgbroker.fhir.schema import ensure_schema
from zorgbroker.fhir.store import FhirStore, read_resources, utcnow
from zorgbroker.registry.database import engine_for, serving_engine

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "nictiz-stu3"
GGZ = FIXTURES / "qualification-ggz-2-0" / "resources"
TODAY = dt.date(2026, 12, 7)
TEMPLATE_PATIENT = "XXX-Bals"
SEARCHES = [
    "Patient?_include=Patient:general-practitioner",
    "Coverage?_include=Coverage:payor:Patient&_include=Coverage:payor:Organization",
    "Consent?category=http://snomed.info/sct%7C11291000146105",
    "Consent?category=http://snomed.info/sct%7C11341000146107",
    "Observation?category=http://snomed.info/sct%7C118228005,http://snomed.info/sct%7C384821006",
    "Condition",
    "Observation?code=http://snomed.info/sct%7C228366006",
    "Observation?code=http://snomed.info/sct%7C228273003",
    "Observation?code=http://snomed.info/sct%7C365980008",
    "Observation/$lastn?code=http://snomed.info/sct%7C365508006",
    "Observation?code=http://snomed.info/sct%7C365470003",
    "Observation?code=http://snomed.info/sct%7C314845004",
    "CarePlan?category=http://snomed.info/sct%7C243114000",
    "Observation/$lastn?category=http://snomed.info/sct%7C275711006"
    "&_include=Observation:related-target&_include=Observation:specimen",
    "Observation?category=http://hl7.org/fhir/observation-category%7Csurvey",
    "Procedure",
    "DiagnosticReport",
    "CareTeam?_include=CareTeam:participant",
]


def patient_id(number: int) -> str:
    return f"bench-{number}"


def load(url: str, patients: int) -> None:
    engine = engine_for(url)
    ensure_schema(engine)
    with engine.connect() as conn:
        held = conn.execute(
            select(func.count())
            .select_from(StoredResource)
            .where(StoredResource.resource_type == "Patient")
        ).scalar_one()
    if held >= patients:
        print(f"database holds {held} patients already")
        return
    template: list[dict[str, Any]] = []
    for path in sorted(GGZ.glob("*.xml")):
        template.extend(read_resources(path, TODAY))
    own = [r for r in template if compartment(r) == TEMPLATE_PATIENT]
    shared = [r for r in template if compartment(r) is None]
    ids = sorted({r["id"] for r in own}, key=len, reverse=True)
    text = json.dumps(own, separators=(",", ":"))
    store = FhirStore(engine)
    store.put_all(shared)
    started = time.perf_counter()
    chunk: list[dict[str, Any]] = []
    for number in range(patients):
        copy = text
        for rid in ids:
            new = patient_id(number) if rid == TEMPLATE_PATIENT else f"{rid}-{number}"
            copy = copy.replace(f'/{rid}"', f'/{new}"').replace(f'"id":"{rid}"', f'"id":"{new}"')
        chunk.extend(json.loads(copy))
        if len(chunk) >= 20_000 or number == patients - 1:
            store.put_all(chunk)
            chunk = []
    seconds = time.perf_counter() - started
    print(f"loaded {patients} patients ({patients * len(own)} resources) in {seconds:.0f} s")


def mint_tokens(url: str, patients: int, count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(patient, token) for `count` patients picked at random, stored as `zorgbroker fhir token`
    stores them."""
    store = OAuthStore(engine_for(url), utcnow)
    chosen = random.Random(seed).sample(range(patients), min(count, patients))
    return [
        (
            patient_id(n),
            store.issue_token(
                client_id="bench",
                patient_id=patient_id(n),
                scope="praktijk~24",  # the GGZ data service,
                lifetime=dt.timedelta(hours=2),
            ),
        )
        for n in chosen
    ]


def serve(url: str, fd: int, port: int) -> None:
    """One server process on the listening socket it inherited."""
    import uvicorn

    from zorgbroker.fhir.routes import FhirService, create_app

    # As `zorgbroker fhir serve` builds it (composition.fhir_service).
    engine = serving_engine(engine_for(url))
    service = FhirService(
        engine, StoredTokenVerifier(engine, utcnow), base_url=f"http://127.0.0.1:{port}"
    )
    config = uvicorn.Config(
        create_app(service), log_level="warning", access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def client_loop(
    base: str,
    tokens: list[tuple[str, str]],
    deadline: float,
    timings: dict[str, list[float]],
    seed: int,
) -> int:
    chooser = random.Random(seed)
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.perf_counter() < deadline:
            _, token = chooser.choice(tokens)
            # A PGO fetches the patient's whole GGZ record with one token.
            for search in chooser.sample(SEARCHES, len(SEARCHES)):
                if time.perf_counter() >= deadline:
                    break
                started = time.perf_counter()
                response = await client.get(
                    search,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Accept": "application/fhir+json",
                    },
                )
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    errors += 1
                timings.setdefault(search.split("?")[0].split("&")[0], []).append(elapsed)
    return errors


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def drive(base: str, tokens: list[tuple[str, str]], clients: int, seconds: float) -> int:
    timings: dict[str, list[float]] = {}
    deadline = time.perf_counter() + seconds
    errors = await asyncio.gather(
        *(client_loop(base, tokens, deadline, timings, seed) for seed in range(clients))
    )
    everything = [t for values in timings.values() for t in values]
    print(
        f"{len(everything)} requests in {seconds:.0f} s: {len(everything) / seconds:.0f}/s, "
        f"errors {sum(errors)}"
    )
    print(f"{'search':<24} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, values in sorted(timings.items()):
        print(
            f"{name[:24]:<24} {len(values):>6} {1000 * statistics.median(values):>8.1f} "
            f"{1000 * percentile(values, 0.95):>8.1f} {1000 * percentile(values, 0.99):>8.1f}"
        )
    print(
        f"{'all':<24} {len(everything):>6} {1000 * statistics.median(everything):>8.1f} "
        f"{1000 * percentile(everything, 0.95):>8.1f} "
        f"{1000 * percentile(everything, 0.99):>8.1f}"
    )
    return len(everything)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--tokens", type=int, default=2_000, help="patients given a token")
    parser.add_argument("--database", help="SQLAlchemy URL; a new SQLite file when absent")
    parser.add_argument("--serve", nargs=3, metavar=("URL", "FD", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]), int(args.serve[2]))
        return
    url = args.database or f"sqlite:///{tempfile.mkdtemp(prefix='bench-fhir-')}/fhir.sqlite3"
    load(url, args.patients)
    tokens = mint_tokens(url, args.patients, args.tokens)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    servers = [
        subprocess.Popen(
            [sys.executable, __file__, "--serve", url, str(listener.fileno()), str(port)],
            pass_fds=(listener.fileno(),),
        )
        for _ in range(args.workers)
    ]
    base = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}metadata", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(2)  # every worker up, not only the first to answer
        # For a profiler to attach to (py-spy record --pid ...).
        print("server processes:", " ".join(str(s.pid) for s in servers), flush=True)
        before = [cpu_seconds(s.pid) for s in servers]
        load_before = os.getloadavg()[0]
        clients_before = time.process_time()
        requests = asyncio.run(drive(base, tokens, args.clients, args.seconds))
        clients_cpu = time.process_time() - clients_before
        load_after = os.getloadavg()[0]
        after = [cpu_seconds(s.pid) for s in servers]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait()
    cpu = sum(after) - sum(before)
    print(
        f"{args.workers} worker(s): server CPU {cpu:.1f} s during the run, "
        f"{1000 * cpu / max(requests, 1):.2f} ms per request; "
        f"load average {load_before:.1f} before, {load_after:.1f} after ({os.cpu_count()} cores)"
    )
    # The clients share the machine's cores with the server: their CPU is the server's loss.
    print(f"clients (this process) CPU {clients_cpu:.1f} s during the run")


if __name__ == "__main__":
    main()
