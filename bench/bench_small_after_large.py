"""A small upload into records that arrived in one large import, and into the same records that
arrived in many imports. Prints the small upload's time in both, and its lookups' share.

    uv run python bench/bench_small_after_large.py [--held 1000000] [--files 40] [--small 1000]
                                                   [--repeat 3]

The same `--held` generated records are loaded twice, into two databases: once as one
production upload, once cut into `--files` uploads, as a registry that took many files would
hold them. The `--small` upload then runs `--repeat` times against each, alternately, each run
on a fresh copy of that database and installation folder (as in `bench_registry.py`). With plain
tables, how the held records arrived should not matter to a later upload; with the partitions
by import of before 2026-12-07 (docs/adr/0001) it did.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
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
    """The file cut into `files` files of whole lines, each with the header. Line by line: read
    whole, a large file would raise this process's resident size, the floor of every later
    child's peak memory (`bench_check`)."""
    size = -(-rows // files)
    parts = [source.with_name(f"part-{number:03d}.csv") for number in range(files)]
    with source.open("rb") as lines:
        header = lines.readline()
        for part in parts:
            with part.open("wb") as out:
                out.write(header)
                out.writelines(itertools.islice(lines, size))
    return parts


def _load(template: str, home: Path, files: list[Path]) -> None:
    """The files as production uploads, in order, into the template database (not measured)."""
    os.environ["ZORGBROKER_HOME"] = str(home)
    os.environ["ZORGBROKER_DATABASE_URL"] = f"{SERVER}/{template}"
    for path in files:
        _child(path)
    _drop_database(template, terminate_only=True)


def _small_run(template: str, home: Path, path: Path, label: str, number: int) -> float:
    run = _measured(template, home, path)
    seconds = _number(run, "seconds")
    phases = run["phases"]
    assert isinstance(phases, dict)
    print(
        f"  {label}, run {number}: {seconds:.2f} s, of which the lookups "
        f"{phases.get('fetch', 0.0):.2f} s, peak {_number(run, 'peak_mb'):,.0f} MB"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("ZORGBROKER_TTP_URL", None)
    one, many = _create_database(), _create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="zb-bench-") as folder:
            held, small = Path(folder) / "held.csv", Path(folder) / "small.csv"
            options = {"organisation": ORGANISATION, "today": TODAY}
            generate_in_child(held, rows=args.held, seed=1, **options)
            generate_in_child(small, rows=args.small, seed=3, **options)
            home_one, home_many = Path(folder) / "home-one", Path(folder) / "home-many"
            print(f"Loading {args.held:,} held records as one upload (not measured) ...")
            _load(one, home_one, [held])
            print(f"Loading them again as {args.files} uploads (not measured) ...")
            _load(many, home_many, _split(held, args.files, args.held))
            print(f"Small upload of {args.small:,} rows, alternately:")
            after_one: list[float] = []
            after_many: list[float] = []
            for number in range(1, args.repeat + 1):
                after_one.append(_small_run(one, home_one, small, "after 1 import", number))
                label = f"after {args.files} imports"
                after_many.append(_small_run(many, home_many, small, label, number))
    finally:
        _drop_database(one)
        _drop_database(many)
    first, later = statistics.median(after_one), statistics.median(after_many)
    print(f"  held records      {args.held:>12,}")
    print(
        f"  small upload      median {first:.2f} s after 1 import "
        f"({min(after_one):.2f}-{max(after_one):.2f}), {later:.2f} s after {args.files} "
        f"({min(after_many):.2f}-{max(after_many):.2f}); ratio {later / first:.2f}"
    )


if __name__ == "__main__":
    main()
