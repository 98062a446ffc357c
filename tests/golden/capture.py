"""Capture the golden reports with the code this interpreter runs (see README.md).

    cd <this repository> && /work/wt-base/.venv/bin/python -m tests.golden.capture

The old checkout's interpreter imports its own `zorgbroker` (an editable install of that
checkout) while `tests.golden` comes from the current directory, so the files are generated
and the commands run by the old code. Writes `reports/<case>.<check|submit>.json` (as the
commands wrote them, unnormalised), `manifest.json` (inputs' hashes and exit statuses) and the
workbook inputs to `inputs/`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.golden.cases import CASES, MANIFEST, REPORTS_DIR, TODAY, dump, report_path, run_all


def _source_commit() -> str:
    import zorgbroker

    source = Path(zorgbroker.__file__).resolve().parent
    done = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def main() -> int:
    REPORTS_DIR.mkdir(exist_ok=True)
    manifest: dict[str, Any] = {
        "captured_from": _source_commit(),
        "today": TODAY.isoformat(),
        "cases": {case.name: {"dataset": case.dataset} for case in CASES},
    }
    with tempfile.TemporaryDirectory(prefix="zorgbroker-golden-") as scratch:
        for case, kind, file, outcome in run_all(Path(scratch), capture=True):
            if outcome.report is None:
                print(f"{case.name} {kind}: geen rapport\n{outcome.stderr}", file=sys.stderr)
                return 1
            entry = manifest["cases"][case.name]
            entry["input_sha256"] = hashlib.sha256(file.read_bytes()).hexdigest()
            entry[f"{kind}_exit_status"] = outcome.exit_status
            report_path(case, kind).write_text(dump(outcome.report), encoding="utf-8")
            print(f"{case.name} {kind}: exit {outcome.exit_status}")
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
