"""Fuzz `check` at scale: mutated versions of the three datasets' generated files (byte flips,
truncation, header case and spacing, quotes and separators, encodings, ZIP entries renamed,
duplicated, nested, dropped; see tests/fuzz/mutations.py), each checked in this process as
`zorgbroker check` does. An exception escaping the check is a failure, as is an input that takes
more than 20 s. Prints the figure for docs/benchmarks.md as JSON and keeps every failing input,
with its traceback, in `--keep` for a regression test.

    uv run python bench/bench_fuzz_check.py --inputs 10000 --seed 1 --keep /tmp/fuzz-failures
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz.mutations import MAX_SECONDS, make_seeds, mutate, run_check


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "fuzz-check")
    args = parser.parse_args()

    import structlog

    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())  # no log line per input
    args.keep.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    failures: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    slowest = (0.0, "")
    over_limit = 0
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="fuzz-check-") as scratch:
        folder = Path(scratch)
        seeds = make_seeds(folder)
        for number in range(args.inputs):
            which = rng.randrange(len(seeds))
            upload, applied = mutate(rng, seeds[which], rng.randint(1, 3))
            result = run_check(upload, folder)
            described = f"input {number}: seed {which}, {', '.join(applied)}"
            if result.seconds > slowest[0]:
                slowest = (result.seconds, described)
            over_limit += result.seconds > MAX_SECONDS
            if result.failure is not None:
                last = result.failure.strip().splitlines()[-1]
                failures[last] += 1
                stem = args.keep / f"failure-{number}"
                stem.with_suffix(upload.suffix).write_bytes(upload.data)
                stem.with_suffix(".txt").write_text(
                    f"{described}\ndataset {upload.dataset}\n\n{result.failure}", encoding="utf-8"
                )
            else:
                rejected = sorted(code for code in result.codes if code.startswith("BF"))
                outcomes[rejected[0] if rejected else "processed"] += 1
            if (number + 1) % 1000 == 0:
                print(f"{number + 1} inputs, {sum(failures.values())} failures", file=sys.stderr)
    figure = {
        "inputs": args.inputs,
        "seed": args.seed,
        "failures": sum(failures.values()),
        "distinct_failures": dict(failures),
        "over_20_s": over_limit,
        "slowest_seconds": round(slowest[0], 2),
        "slowest_input": slowest[1],
        "outcomes": dict(outcomes.most_common()),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(_cpu_seconds() - cpu_started, 1),
    }
    print(json.dumps(figure, indent=1, ensure_ascii=False))
    return 1 if failures or over_limit else 0


if __name__ == "__main__":
    sys.exit(main())
