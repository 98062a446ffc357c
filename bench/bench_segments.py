"""A small upload into records held in many segments, before and after `zorgbroker segments
--merge`. Prints the small upload's time, its lookups' share, and what the merge took.

    uv run python bench/bench_segments.py [--held 1000000] [--files 40] [--small 1000]
                                          [--repeat 5]

The held records go in as `--files` production uploads, each large enough for segments of its
own (`ZORGBROKER_IMPORT_SEGMENT_ROWS` is set just below a file's rows), as a registry that took
many large files would hold them. The small upload then runs `--repeat` times, each on a fresh
copy of that database and installation folder (as in `bench_registry.py`); the segments are
merged, and it runs as often again. The alternative an operator has is to leave the segments as
they are, so both are measured on the same records in one run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_check import generate_in_child
from bench_registry import (
    ORGANISATION,
    SERVER,
    TODAY,
    _child,
    _create_database,
    _drop_database,
    _measured,
    _number,
)


def _split(source: Path, files: int, rows: int) -> list[Path]:
    """The generated file of `rows` rows cut into `files` files of whole lines, each with the
    header; line by line, as a large file read whole would raise this process's resident size,
    which every child started afterwards inherits as the floor of its peak (`bench_check`)."""
    size = -(-rows // files)
    parts = [source.with_name(f"part-{number:03d}.csv") for number in range(files)]
    with source.open("rb") as lines:
        header = lines.readline()
        for part in parts:
            with part.open("wb") as out:
                out.write(header)
                for line in itertools.islice(lines, size):
                    out.write(line)
    return parts


def _small_runs(
    template: str, home: Path, path: Path, repeat: int, label: str
) -> tuple[list[float], float]:
    """Each run's seconds, and the largest peak memory (MB) of the runs."""
    seconds, peak = [], 0.0
    for number in range(1, repeat + 1):
        run = _measured(template, home, path)
        seconds.append(_number(run, "seconds"))
        peak = max(peak, _number(run, "peak_mb"))
        phases = run["phases"]
        assert isinstance(phases, dict)
        print(
            f"  {label} run {number}: {seconds[-1]:.2f} s, "
            f"{_number(run, 'records') / seconds[-1]:,.0f} rows/s, of which the lookups "
            f"{phases.get('fetch', 0.0):.2f} s, peak {_number(run, 'peak_mb'):,.0f} MB"
        )
    return seconds, peak


def _merge(template: str, home: Path) -> dict[str, object]:
    """Merge in this process (run as a child of the benchmark, so that what it loads does not
    raise the floor of the later runs' peak memory): seconds, rows moved, and the tables."""
    from zorgbroker.composition import open_registry
    from zorgbroker.registry.upkeep import merge_dataset
    from zorgbroker.settings import get_settings

    os.environ["ZORGBROKER_HOME"] = str(home)
    os.environ["ZORGBROKER_DATABASE_URL"] = f"{SERVER}/{template}"
    engine = open_registry(get_settings(fresh=True))
    started = time.perf_counter()
    done = merge_dataset(engine, "nhr-pmicd", actor="bench")
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "seconds": seconds,
        "rows": sum(merged.rows for merged in done.tables),
        "tables": [[m.table, len(m.before), m.rows] for m in done.tables],
    }


def _merge_in_child(template: str, home: Path) -> tuple[float, int]:
    done = subprocess.run(
        [sys.executable, __file__, "--merge", template, str(home)],
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for table, segments, rows in result["tables"]:
        print(f"  {table}: {segments} segments, {rows:,} rows")
    return float(result["seconds"]), int(result["rows"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--merge", nargs=2, metavar=("DATABASE", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.merge:
        print(json.dumps(_merge(args.merge[0], Path(args.merge[1]))))
        return
    template = _create_database()
    with tempfile.TemporaryDirectory(prefix="zb-bench-") as folder:
        home = Path(folder) / "home"
        os.environ["ZORGBROKER_HOME"] = str(home)
        os.environ["ZORGBROKER_DATABASE_URL"] = f"{SERVER}/{template}"
        os.environ.pop("ZORGBROKER_TTP_URL", None)
        # Each file's records get a segment of their own, and so do their serials.
        per_file = args.held // args.files
        os.environ["ZORGBROKER_IMPORT_SEGMENT_ROWS"] = str(max(1, per_file * 4 // 5))
        try:
            held, small = Path(folder) / "held.csv", Path(folder) / "small.csv"
            options = {"organisation": ORGANISATION, "today": TODAY}
            generate_in_child(held, rows=args.held, seed=1, **options)
            generate_in_child(small, rows=args.small, seed=3, **options)
            print(f"Loading {args.held:,} held records in {args.files} files (not measured) ...")
            for part in _split(held, args.files, args.held):
                _child(part)
            _drop_database(template, terminate_only=True)
            print(f"Small upload of {args.small:,} rows, records in {args.files} segments:")
            before, before_peak = _small_runs(template, home, small, args.repeat, "segments")
            print("Merging the segments ...")
            merge_seconds, merged_rows = _merge_in_child(template, home)
            _drop_database(template, terminate_only=True)
            print(f"Small upload of {args.small:,} rows, records in one segment:")
            after, after_peak = _small_runs(template, home, small, args.repeat, "merged")
        finally:
            _drop_database(template)
    slow, fast = statistics.median(before), statistics.median(after)
    print(f"  held records      {args.held:>12,} in {args.files} files")
    print(
        f"  small upload      median {slow:.2f} s ({args.small / slow:,.0f} rows/s) in "
        f"{args.files} segments, {fast:.2f} s ({args.small / fast:,.0f} rows/s) merged"
    )
    print(f"  peak memory       {before_peak:,.0f} MB in segments, {after_peak:,.0f} MB merged")
    print(f"  merge             {merge_seconds:.1f} s for {merged_rows:,} rows "
          f"({merged_rows / merge_seconds:,.0f} rows/s)")  # fmt: skip


if __name__ == "__main__":
    main()
