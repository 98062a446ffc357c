"""A production upload end to end into PostgreSQL that already holds records: TTP (stage 1 and 2,
sealing), validation, comparison with the held records, import. Prints rows/s and peak memory.

    uv run python bench/bench_registry.py [--rows 1000000] [--held 1000000] [--repeat 3]
                                          [--small 1000]

A database is created on 127.0.0.1:5432 (user postgres) and dropped afterwards. The held records
are loaded first through the same path (not measured). Each measured upload then runs in a fresh
process (so its peak memory is its own) against a fresh copy of that database and of the
installation's folder (the TTP's store included): PostgreSQL copies a database from a template
in seconds, where loading the held records again takes most of a minute. On a shared machine
one run can be a third slower than the next, so `--repeat` runs report the median and the best.
Each run also reports the CPU time of its own process and, where the server runs on this machine
(Linux), of the database server: together, divided by the cores, the least wall time that work
could take here.
Then `--small` rows go in the same way, the common case beside the large one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TODAY = dt.date(2026, 11, 22)
ORGANISATION = "01234567"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _proc_stat(pid: str) -> tuple[str, int, list[int]] | None:
    """(command, parent pid, [utime, stime, cutime, cstime] in clock ticks) of a process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    command = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return command, int(fields[1]), [int(f) for f in fields[11:15]]


def _server_cpu_seconds() -> float | None:
    """CPU seconds the local PostgreSQL server has used so far, its ended backends included
    (Linux: a parent's cutime holds its reaped children's time); None where /proc does not
    show it (another machine, another OS)."""
    stats = {
        pid: stat
        for pid in os.listdir("/proc")
        if pid.isdigit() and (stat := _proc_stat(pid)) and stat[0] == "postgres"
    }
    ticks = 0
    for _, parent, (user, system, child_user, child_system) in stats.values():
        ticks += user + system
        if str(parent) not in stats:  # the postmaster
            ticks += child_user + child_system
    return ticks / os.sysconf("SC_CLK_TCK") if stats else None


def _upload(path: Path) -> dict[str, object]:
    """Submit and process one production upload in this process; what it took."""
    from zorgbroker.composition import open_registry, upload_service
    from zorgbroker.settings import get_settings
    from zorgbroker.uploads.tasks import Held

    settings = get_settings(fresh=True)
    # Schema work is not part of an upload: the service opens (and migrates) the database here.
    uploads = upload_service(settings, dispatch=Held())
    started = time.perf_counter()
    cpu_started = os.times()
    server_started = _server_cpu_seconds()
    upload_id = uploads.submit(
        path,
        dataset="nhr-pmicd",
        organisation=ORGANISATION,
        mode="production",
        uploaded_by=settings.actor,
        today=TODAY,
    )
    report = uploads.process(upload_id)
    seconds = time.perf_counter() - started
    cpu = os.times()
    # This process's own CPU time: steadier than wall time on a shared machine (the database
    # server's work is not in it).
    cpu_seconds = cpu.user - cpu_started.user + cpu.system - cpu_started.system
    server_ended = _server_cpu_seconds()
    server_seconds = (
        None if server_started is None or server_ended is None else server_ended - server_started
    )
    from sqlalchemy import select

    from zorgbroker.registry.models import Upload

    with open_registry(settings).connect() as conn:
        timings = conn.execute(select(Upload.timings).where(Upload.id == upload_id)).scalar_one()
    info = uploads.get(upload_id)
    assert info is not None and info.status == "done"
    stored = report.stored
    return {
        "records": report.records,
        "accepted": report.accepted,
        "stored": [stored.new, stored.updated, stored.unchanged] if stored else None,
        "by_code": report.by_code(),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "server_cpu_seconds": server_seconds,
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


def _create_database(template: str | None = None) -> str:
    import psycopg

    name = f"zorgbroker_bench_{secrets.token_hex(4)}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        if template is None:
            c.execute(f'CREATE DATABASE "{name}"')
            return name
        # FILE_COPY copies the files between two checkpoints instead of writing the whole
        # database through the WAL, which would leave a checkpoint due in the measured run.
        c.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        c.execute("CHECKPOINT")
    return name


def _drop_database(name: str, *, terminate_only: bool = False) -> None:
    """Drop the database; with `terminate_only`, only end its sessions (a template may have
    none while it is copied)."""
    import psycopg

    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        if not terminate_only:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _measured(template: str, home: Path, path: Path) -> dict[str, object]:
    """One measured upload on fresh copies of the loaded database and installation folder."""
    name = _create_database(template)
    copy = home.with_name(f"{home.name}-{name}")
    shutil.copytree(home, copy)
    try:
        os.environ["ZORGBROKER_HOME"] = str(copy)
        os.environ["ZORGBROKER_DATABASE_URL"] = f"{SERVER}/{name}"
        return _child(path)
    finally:
        _drop_database(name)
        shutil.rmtree(copy)


def _number(run: dict[str, object], key: str) -> float:
    value = run[key]
    assert isinstance(value, int | float)
    return float(value)


def _print_run(number: int, run: dict[str, object]) -> None:
    rows = int(_number(run, "records"))
    seconds = _number(run, "seconds")
    server = run.get("server_cpu_seconds")
    print(
        f"  run {number}: {seconds:.1f} s, {rows / seconds:,.0f} rows/s, "
        f"CPU of this process {_number(run, 'cpu_seconds'):.1f} s, "
        + (f"of the database server {server:.1f} s, " if isinstance(server, float) else "")
        + f"peak {_number(run, 'peak_mb'):,.0f} MB"
    )
    print(f"         phases (s) {run['phases']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--held", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--small",
        type=int,
        default=1_000,
        help="also measure an upload of this many rows into the held records (0: not)",
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_upload(args.measure)))
        return
    from bench_check import generate_in_child

    template = _create_database()
    runs: list[dict[str, object]] = []
    small_runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="zb-bench-") as folder:
        home = Path(folder) / "home"
        os.environ["ZORGBROKER_HOME"] = str(home)
        os.environ["ZORGBROKER_DATABASE_URL"] = f"{SERVER}/{template}"
        os.environ.pop("ZORGBROKER_TTP_URL", None)
        try:
            print(f"Generating {args.held:,} held and {args.rows:,} new procedures ...")
            held, new = Path(folder) / "held.csv", Path(folder) / "new.csv"
            options = {"organisation": ORGANISATION, "today": TODAY}
            generate_in_child(held, rows=args.held, seed=1, **options)
            generate_in_child(new, rows=args.rows, seed=2, **options)
            small = Path(folder) / "small.csv"
            if args.small:
                generate_in_child(small, rows=args.small, seed=3, **options)
            print("Loading the held records (not measured) ...")
            filled = _child(held)
            print(f"  {filled['records']:,} records in {filled['seconds']:.1f} s")
            _drop_database(template, terminate_only=True)
            print(f"Measured upload, {args.repeat} run(s), each on a fresh copy ...")
            for number in range(1, args.repeat + 1):
                runs.append(_measured(template, home, new))
                _print_run(number, runs[-1])
            if args.small:
                # The common case beside the large one: a hospital's monthly file against
                # the same held records (fetched by index lookups, not in one pass).
                print(f"Small upload of {args.small:,} rows, {args.repeat} run(s) ...")
                for number in range(1, args.repeat + 1):
                    small_runs.append(_measured(template, home, small))
                    _print_run(number, small_runs[-1])
        finally:
            _drop_database(template)
    run = runs[0]
    rows = int(_number(run, "records"))
    seconds = sorted(_number(r, "seconds") for r in runs)
    median = statistics.median(seconds)
    print(f"  records           {rows:>12,}")
    print(f"  stored new/upd/unch {run['stored']}")
    print(f"  messages by code  {run['by_code']}")
    print(f"  end to end        median {median:.1f} s, best {seconds[0]:.1f} s")
    print(f"  throughput        median {rows / median:,.0f} rows/s, best {rows / seconds[0]:,.0f}")
    print(f"  peak memory       {max(_number(r, 'peak_mb') for r in runs):>12,.0f} MB")
    process_cpu = statistics.median(_number(r, "cpu_seconds") for r in runs)
    server_cpu = [s for r in runs if isinstance(s := r.get("server_cpu_seconds"), float)]
    if server_cpu:
        # Work that wall time cannot go below on this machine, however well it overlaps.
        total = process_cpu + statistics.median(server_cpu)
        cores = os.cpu_count() or 1
        print(
            f"  CPU (median)      {process_cpu:.1f} s this process + "
            f"{statistics.median(server_cpu):.1f} s database server = {total:.1f} s; "
            f"on {cores} cores no less than {total / cores:.1f} s"
        )
    if small_runs:
        small_median = statistics.median(_number(r, "seconds") for r in small_runs)
        print(f"  small upload      median {small_median:.2f} s for {args.small:,} rows")


if __name__ == "__main__":
    main()
