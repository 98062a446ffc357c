"""The golden cases: which generated files are checked and submitted, and how.

Shared by `capture.py` (run once with the old code's interpreter) and `test_golden_reports.py`
(run with the current code), so both make the same files and call the same command lines. The
command line is the stable interface: `sys.executable -m zorgbroker`, long options only.

Seeds and row counts are chosen so that, per dataset, the cases together raise every message
the generator can seed (see GOLDEN_CODES and `test_cases_cover_every_seeded_fault`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).parent
REPORTS_DIR = GOLDEN_DIR / "reports"
#: Inputs that cannot be made again byte for byte (ZIP archives and workbooks record when they
#: were written), kept as captured.
INPUTS_DIR = GOLDEN_DIR / "inputs"
MANIFEST = GOLDEN_DIR / "manifest.json"

#: The day the files are made for and checked against (`--today`, `--peildatum`).
TODAY = dt.date(2026, 6, 1)
#: No single command may take longer than this.
COMMAND_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Case:
    name: str
    dataset: str
    rows: int
    error_rate: float
    seed: int
    #: ".csv", ".zip" or ".xlsx": the file the generator writes.
    suffix: str
    organisation: str

    @property
    def file_name(self) -> str:
        return f"{self.name}{self.suffix}"

    @property
    def stored_input(self) -> Path | None:
        """The captured input to use instead of generating it again, for containers."""
        return INPUTS_DIR / self.file_name if self.suffix in (".xlsx", ".zip") else None


#: In this order: submits go into one registry, so later uploads meet the earlier ones.
CASES: tuple[Case, ...] = (
    Case("nhr-pmicd-csv", "nhr-pmicd", 80, 0.7, 2, ".csv", "01234567"),
    Case("nhr-pmicd-xlsx", "nhr-pmicd", 80, 0.7, 2, ".xlsx", "01234567"),
    Case("nivel-fysio-zip", "nivel-fysio", 40, 0.7, 6, ".zip", "04012345"),
    Case("parabench-mi-1", "parabench-mi", 4, 1.0, 1, ".csv", "04012345"),
    Case("parabench-mi-8", "parabench-mi", 4, 1.0, 8, ".csv", "04012345"),
    Case("parabench-mi-80", "parabench-mi", 4, 1.0, 80, ".csv", "04012345"),
)

#: Every code the generator can seed, per dataset (from the generator modules' docstrings).
GOLDEN_CODES: dict[str, frozenset[str]] = {
    "nhr-pmicd": frozenset(
        {f"F-00{n}" for n in range(1, 6)}
        | {f"F-30{n}" for n in range(1, 10)}
        | {f"W-30{n}" for n in range(1, 5)}
    ),
    "nivel-fysio": frozenset(
        {f"F-00{n}" for n in range(1, 4)}
        | {f"F-10{n}" for n in range(1, 8)}
        | {f"W-10{n}" for n in range(1, 4)}
    ),
    "parabench-mi": frozenset(
        {f"F-00{n}" for n in range(1, 5)} | {"F-201", "F-202", "W-201", "W-202"}
    ),
}


@dataclass(frozen=True)
class Outcome:
    """What one command gave: its exit status and its JSON report (None if it wrote none)."""

    exit_status: int
    report: dict[str, Any] | None
    stderr: str


def input_file(case: Case, folder: Path, *, capture: bool) -> Path:
    """The case's file in `folder`: generated, or (for a container, unless capturing) copied
    from the one captured."""
    stored = case.stored_input
    if stored is None or capture:
        made = generate(case, folder)
        if stored is not None:
            stored.parent.mkdir(exist_ok=True)
            shutil.copyfile(made, stored)
        return made
    return Path(shutil.copyfile(stored, folder / case.file_name))


def generate(case: Case, folder: Path) -> Path:
    """Make the case's file with the generator of whichever code this interpreter runs."""
    from zorgbroker.intake.generate import generate as make

    made = make(
        case.dataset,
        rows=case.rows,
        out=folder / case.file_name,
        error_rate=case.error_rate,
        seed=case.seed,
        organisation=case.organisation,
        today=TODAY,
    )
    return made.path


def environment(home: Path) -> dict[str, str]:
    """The caller's environment without any zorgbroker setting, with its own home: embedded
    SQLite, inline jobs, no SMTP (the defaults)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZORGBROKER_")}
    env["ZORGBROKER_HOME"] = str(home)
    return env


def zorgbroker(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zorgbroker", *args],
        cwd=home,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
    )


def _outcome(args: list[str], home: Path, report: Path) -> Outcome:
    report.unlink(missing_ok=True)
    done = zorgbroker([*args, "--format", "json", "--output", str(report)], home)
    document = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None
    return Outcome(done.returncode, document, done.stderr)


def check(case: Case, file: Path, home: Path) -> Outcome:
    args = ["check", str(file), "--dataset", case.dataset, "--organisation", case.organisation]
    args += ["--peildatum", TODAY.isoformat()]
    return _outcome(args, home, home / f"{case.name}.check.json")


def submit(case: Case, file: Path, home: Path) -> Outcome:
    args = ["submit", str(file), "--dataset", case.dataset, "--organisation", case.organisation]
    args += ["--mode", "production", "--peildatum", TODAY.isoformat()]
    return _outcome(args, home, home / f"{case.name}.submit.json")


def init_ttp(home: Path) -> None:
    done = zorgbroker(["ttp", "init"], home)
    if done.returncode != 0:
        raise RuntimeError(f"zorgbroker ttp init faalde ({done.returncode}):\n{done.stderr}")


def run_all(home: Path, *, capture: bool = False) -> Iterator[tuple[Case, str, Path, Outcome]]:
    """Generate, check and submit every case in order in a fresh home: (case, kind, file,
    outcome) with kind "check" or "submit". All checks come first, then all submits."""
    files_dir = home / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    files = {case.name: input_file(case, files_dir, capture=capture) for case in CASES}
    for case in CASES:
        yield case, "check", files[case.name], check(case, files[case.name], home)
    init_ttp(home)
    for case in CASES:
        yield case, "submit", files[case.name], submit(case, files[case.name], home)


def report_path(case: Case, kind: str) -> Path:
    return REPORTS_DIR / f"{case.name}.{kind}.json"


def dump(document: object) -> str:
    """Stable text for stored reports and diffs: one key or message per line."""
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
