"""`zorgbroker uploads` on an existing registry: quick to start, because it reads the history
without the check engine, Polars, Alembic, pseudonymisation or mail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import ZORGBROKER

UPLOADS_IN_PROCESS = """
import sys
from zorgbroker.cli import main

sys.argv = ["zorgbroker", "uploads"]
try:
    main()
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print(" ".join(sorted(sys.modules)))
"""

#: What the listing must not load: each costs tenths of a second of start-up.
HEAVY = {
    "polars",
    "alembic",
    "zorgbroker.intake.checks",
    "zorgbroker.intake.spec",
    "zorgbroker.registry.layout",
    "zorgbroker.uploads.service",
    "zorgbroker.pseudonymisation",
    "zorgbroker.mail.notify",
}


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`args` run in a fresh process with only this home configured (the default SQLite)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ZORGBROKER_")}
    environment |= {"COLUMNS": "100", "ZORGBROKER_HOME": str(home)}
    return subprocess.run(args, capture_output=True, text=True, env=environment, check=False)


def test_the_listing_of_an_existing_registry_loads_no_polars_alembic_or_check(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    file = str(tmp_path / "nhr.csv")
    made = _run(home, ZORGBROKER, "generate", "nhr-pmicd", "--rows", "20", "-o", file)
    assert made.returncode == 0, made.stderr
    # A production upload, so that the listing also shows what the registry stored.
    submitted = _run(
        home, ZORGBROKER, "submit", file, "-d", "nhr-pmicd", "--organisation", "12345678",
        "-m", "production",
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr

    done = _run(home, sys.executable, "-c", UPLOADS_IN_PROCESS)
    assert done.returncode == 0, done.stderr
    assert "nhr.csv" in done.stdout and "productie" in done.stdout
    loaded = set(done.stdout.splitlines()[-1].split())
    assert {m for m in loaded if m in HEAVY or any(m.startswith(f"{h}.") for h in HEAVY)} == set()
