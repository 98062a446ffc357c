"""Benchmark: `zorgbroker check` against `frictionless validate` on the same nhr-pmicd file.

Both run as separate processes on the same generated file, one after the other, in one run;
rows per second is rows / wall-clock seconds, and peak memory is the child's own maximum
resident set size. A check takes a second or two, and on a shared machine a single run moves
by a third with whatever else runs: it is run `--repeat` times (5) and the median counts;
frictionless takes half a minute or more per run, which evens such moves out
(`--frictionless-repeat`, 1). Frictionless gets a Table Schema equivalent to what it can
express of the dataset specification (types, required, patterns, code lists, ranges); our
cross-field rules have no Table Schema counterpart, so zorgbroker does strictly more work.

    uv run --group bench python bench/bench_check.py --rows 1000000
    uv run --group bench python bench/bench_check.py --rows 10000000 --skip-frictionless
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zorgbroker
from zorgbroker.intake.api import generate, load_dataset

HERE = Path(__file__).resolve().parent
TODAY = dt.date(2026, 11, 22)


def table_schema() -> dict[str, Any]:
    """The nhr-pmicd specification as far as a frictionless Table Schema can say it."""
    spec = load_dataset("nhr-pmicd")
    fields: list[dict[str, Any]] = []
    for f in spec.main_table.fields:
        field: dict[str, Any] = {"name": f.name, "type": "string"}
        constraints: dict[str, Any] = {}
        if f.type == "integer":
            field["type"] = "integer"
        elif f.type == "number":
            field["type"] = "number"
        elif f.type == "date":
            field["type"], field["format"] = "date", "%Y-%m-%d"
        if f.required is True:
            constraints["required"] = True
        if f.pattern:
            constraints["pattern"] = f.pattern.strip("^$")
        if f.codes is not None:
            codes = spec.code_lists[f.codes] if isinstance(f.codes, str) else f.codes
            constraints["enum"] = list(codes)
        if f.minimum is not None:
            constraints["minimum"] = int(f.minimum)
        if f.maximum is not None:
            constraints["maximum"] = int(f.maximum)
        if f.max_length is not None:
            constraints["maxLength"] = f.max_length
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    return {"fields": fields, "missingValues": [""]}


@dataclass
class Run:
    seconds: float
    peak_mib: float
    returncode: int
    stdout: bytes
    stderr: bytes


def generate_in_child(path: Path, **options: Any) -> None:
    """Generate an nhr-pmicd file at `path` (options as for `generate`) in a process of its own.
    Generating a million rows here would raise this process's resident size, and Linux gives
    every child started afterwards that high-water mark as the floor of its own peak (it is
    carried over at exec): every tool's peak would read as this process's."""
    child = multiprocessing.get_context("spawn").Process(
        target=generate, args=("nhr-pmicd",), kwargs={"out": path, **options}
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"generating {path.name} failed")


def timed(command: list[str]) -> Run:
    """Wall seconds and this child's own peak RSS (from wait4, not the largest child so far)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_maxrss / 1024, child.returncode, out.read(), err.read())


def runs_of(command: list[str], repeat: int, label: str) -> list[Run]:
    """`repeat` runs one after the other, each printed; a run shorter than a few seconds moves
    with whatever else the machine does, so the median is what the summary uses."""
    runs: list[Run] = []
    for number in range(1, repeat + 1):
        run = timed(command)
        runs.append(run)
        print(f"  {label} run {number}: {run.seconds:6.2f} s  peak {run.peak_mib:7,.0f} MiB")
    return runs


def median_seconds(runs: list[Run]) -> float:
    return statistics.median(run.seconds for run in runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--error-rate", type=float, default=0.01)
    parser.add_argument("--skip-frictionless", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs of zorgbroker check (the median counts)"
    )
    parser.add_argument(
        "--frictionless-repeat",
        type=int,
        default=1,
        help="runs of frictionless (each takes half a minute or more, long enough to even out)",
    )
    args = parser.parse_args()

    data = HERE / "data"
    data.mkdir(exist_ok=True)
    path = data / f"nhr-pmicd-{args.rows}.csv"
    if not path.exists():
        print(f"generating {args.rows:,} rows ...", flush=True)
        generate_in_child(path, rows=args.rows, error_rate=args.error_rate, seed=1, today=TODAY)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path.name}, {args.rows:,} rows, {size_mb:,.0f} MB")

    # An installation byte-compiles the package (pip does, and uv with compile-bytecode); an
    # editable checkout is not, and where the interpreter may not write .pyc files
    # (PYTHONDONTWRITEBYTECODE) each run would compile every zorgbroker module from source again:
    # compile them once, as an install would.
    compileall.compile_dir(Path(zorgbroker.__file__).parent, quiet=1)
    ours = [
        sys.executable,
        "-m",
        "zorgbroker",
        "check",
        str(path),
        "--dataset",
        "nhr-pmicd",
        "--organisation",
        "01234567",
        "--peildatum",
        TODAY.isoformat(),
        "--format",
        "json",
        "--output",
        os.devnull,
    ]
    mine = runs_of(ours, args.repeat, "zorgbroker check    ")
    failed = [run for run in mine if run.returncode not in (0, 1)]
    if failed:
        sys.exit(f"zorgbroker check failed: {failed[0].stderr.decode()[-2000:]}")
    seconds = median_seconds(mine)
    peak = max(run.peak_mib for run in mine)
    rows_s = args.rows / seconds
    print(
        f"zorgbroker check     : {seconds:8.2f} s  {rows_s:12,.0f} rows/s  peak {peak:7,.0f} MiB"
        f"  (median of {len(mine)})"
    )
    if args.skip_frictionless:
        return
    schema = data / "nhr-pmicd.schema.json"
    schema.write_text(json.dumps(table_schema(), indent=1), encoding="utf-8")
    theirs = [
        sys.executable,
        "-m",
        "frictionless",
        "validate",
        str(path),
        "--schema",
        str(schema),
        "--format",
        "csv",
        "--json",
        # Frictionless stops after 1,000 errors by default; lift that so it reads the whole file.
        "--limit-errors",
        "100000000",
        "--trusted",  # it refuses absolute paths otherwise
    ]
    others = runs_of(theirs, args.frictionless_repeat, "frictionless validate")
    last = others[-1]
    try:
        body = last.stdout.decode("utf-8", "replace")
        stats = json.loads(body[body.index("{") :])["tasks"][0]["stats"]
        print(f"frictionless read {stats.get('rows')} rows, found {stats.get('errors')} errors")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        print(f"(could not read frictionless's statistics: {exc!r})")
    f_seconds = median_seconds(others)
    f_peak = max(run.peak_mib for run in others)
    f_rows_s = args.rows / f_seconds
    print(
        f"frictionless validate: {f_seconds:8.2f} s  {f_rows_s:12,.0f} rows/s  "
        f"peak {f_peak:7,.0f} MiB  (median of {len(others)})"
    )
    print(f"speed-up: {rows_s / f_rows_s:,.1f}x")
    if last.returncode not in (0, 1):
        print(f"(frictionless exit {last.returncode}: {last.stderr.decode()[-500:]})")


if __name__ == "__main__":
    main()
