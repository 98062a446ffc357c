"""Benchmark: `zorgbroker check` against `frictionless validate` on the same nhr-pmicd file.

Both run as separate processes on the same generated file, one after the other, in one run;
rows per second is rows / wall-clock seconds, and peak memory is the child's maximum resident
set size. Frictionless gets a Table Schema equivalent to what it can express of the dataset
specification (types, required, patterns, code lists, ranges); our cross-field rules have no
Table Schema counterpart, so zorgbroker does strictly more work.

    uv run --group bench python bench/bench_check.py --rows 1000000
    uv run --group bench python bench/bench_check.py --rows 10000000 --skip-frictionless
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import zorgbroker
from zorgbroker.intake.generate import generate
from zorgbroker.intake.spec import load_dataset

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


def timed(command: list[str]) -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: run the smaller one first.
    return seconds, max(peak, before) / 1024, done


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--error-rate", type=float, default=0.01)
    parser.add_argument("--skip-frictionless", action="store_true")
    args = parser.parse_args()

    data = HERE / "data"
    data.mkdir(exist_ok=True)
    path = data / f"nhr-pmicd-{args.rows}.csv"
    if not path.exists():
        print(f"generating {args.rows:,} rows ...", flush=True)
        generate(
            "nhr-pmicd", rows=args.rows, out=path, error_rate=args.error_rate, seed=1, today=TODAY
        )
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
    seconds, peak, done = timed(ours)
    if done.returncode not in (0, 1):
        sys.exit(f"zorgbroker check failed: {done.stderr.decode()[-2000:]}")
    rows_s = args.rows / seconds
    print(f"zorgbroker check     : {seconds:8.2f} s  {rows_s:12,.0f} rows/s  peak {peak:7,.0f} MiB")
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
    f_seconds, f_peak, f_done = timed(theirs)
    f_rows_s = args.rows / f_seconds
    try:
        body = f_done.stdout.decode("utf-8", "replace")
        stats = json.loads(body[body.index("{") :])["tasks"][0]["stats"]
        print(f"frictionless read {stats.get('rows')} rows, found {stats.get('errors')} errors")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        print(f"(could not read frictionless's statistics: {exc!r})")
    print(
        f"frictionless validate: {f_seconds:8.2f} s  {f_rows_s:12,.0f} rows/s  "
        f"peak {f_peak:7,.0f} MiB (peak of either child)"
    )
    print(f"speed-up: {rows_s / f_rows_s:,.1f}x")
    if f_done.returncode not in (0, 1):
        print(f"(frictionless exit {f_done.returncode}: {f_done.stderr.decode()[-500:]})")


if __name__ == "__main__":
    main()
