"""A production upload end to end into PostgreSQL that already holds records: TTP (stage 1 and 2,
sealing), validation, comparison with the held records, import. Prints rows/s and peak memory.

    uv run python bench/bench_registry.py [--rows 1000000] [--held 1000000] [--database-url URL]

Without --database-url a fresh database is created on 127.0.0.1:5432 (user postgres) and dropped
afterwards. The held records are loaded first through the same path (not measured); then the
measured upload runs in a fresh process, so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TODAY = dt.date(2026, 11, 22)
ORGANISATION = "01234567"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _upload(path: Path) -> dict[str, object]:
    """Submit and process one production upload in this process; what it took."""
    from zorgbroker.settings import get_settings
    from zorgbroker.store.registry_db import open_registry
    from zorgbroker.store.uploads import get_upload, process_upload, submit_upload

    settings = get_settings(fresh=True)
    open_registry(settings)  # schema work is not part of an upload
    started = time.perf_counter()
    cpu_started = os.times()
    upload_id = submit_upload(
        path,
        dataset="nhr-pmicd",
        organisation=ORGANISATION,
        mode="production",
        settings=settings,
        today=TODAY,
    )
    report = process_upload(upload_id, settings=settings)
    seconds = time.perf_counter() - started
    cpu = os.times()
    # This process's own CPU time: steadier than wall time on a shared machine (the database
    # server's work is not in it).
    cpu_seconds = cpu.user - cpu_started.user + cpu.system - cpu_started.system
    from sqlalchemy import select

    from zorgbroker.store.models import Upload

    with open_registry(settings).connect() as conn:
        timings = conn.execute(select(Upload.timings).where(Upload.id == upload_id)).scalar_one()
    info = get_upload(open_registry(settings), upload_id)
    assert info is not None and info.status == "done"
    stored = report.stored
    return {
        "records": report.records,
        "accepted": report.accepted,
        "stored": [stored.new, stored.updated, stored.unchanged] if stored else None,
        "by_code": report.by_code(),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "phases": timings,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--measure", str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _create_database() -> tuple[str, str]:
    import psycopg

    name = f"zorgbroker_bench_{secrets.token_hex(4)}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name, f"{SERVER}/{name}"


def _drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--held", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_upload(args.measure)))
        return
    from zorgbroker.intake.generate import generate

    created = None
    url = args.database_url
    if url is None:
        created, url = _create_database()
    with tempfile.TemporaryDirectory(prefix="zb-bench-") as folder:
        home = Path(folder) / "home"
        os.environ["ZORGBROKER_HOME"] = str(home)
        os.environ["ZORGBROKER_DATABASE_URL"] = url
        os.environ.pop("ZORGBROKER_TTP_URL", None)
        try:
            print(f"Generating {args.held:,} held and {args.rows:,} new procedures ...")
            held = generate(
                "nhr-pmicd",
                rows=args.held,
                out=Path(folder) / "held.csv",
                seed=1,
                organisation=ORGANISATION,
                today=TODAY,
            )
            new = generate(
                "nhr-pmicd",
                rows=args.rows,
                out=Path(folder) / "new.csv",
                seed=2,
                organisation=ORGANISATION,
                today=TODAY,
            )
            print("Loading the held records (not measured) ...")
            filled = _child(held.path)
            print(f"  {filled['records']:,} records in {filled['seconds']:.1f} s")
            print("Measured upload ...")
            run = _child(new.path)
        finally:
            if created is not None:
                _drop_database(created)
    rows = int(run["records"])  # type: ignore[call-overload]
    seconds = float(run["seconds"])  # type: ignore[arg-type]
    print(f"  records           {rows:>12,}")
    print(f"  stored new/upd/unch {run['stored']}")
    print(f"  messages by code  {run['by_code']}")
    print(f"  phases (s)        {run['phases']}")
    print(f"  end to end        {seconds:>12.1f} s")
    print(f"  CPU (this process){float(run['cpu_seconds']):>12.1f} s")  # type: ignore[arg-type]
    print(f"  throughput        {rows / seconds:>12,.0f} rows/s")
    print(f"  peak memory       {float(run['peak_mb']):>12,.0f} MB")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
