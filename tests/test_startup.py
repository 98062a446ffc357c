"""What a `zorgbroker check` does before it reads the file: every run pays it, so it stays small."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.intake.conftest import TODAY
from zorgbroker import logging as zb_logging
from zorgbroker.intake.api import CheckOptions, check_upload
from zorgbroker.intake.checks import plan
from zorgbroker.intake.generate import generate
from zorgbroker.intake.spec import load_path
from zorgbroker.intake.spec.loader import SHIPPED, check_plans

#: The environment of a child at the default log level.
ENV = {k: v for k, v in os.environ.items() if k != "ZORGBROKER_LOG_LEVEL"}


def _python(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter running `script` with `args`, as a user's start-up would be."""
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=ENV, check=False
    )


CHECK_IN_PROCESS = """
import sys
from zorgbroker.cli import main

sys.argv = ["zorgbroker", "check", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    code = exit.code
print(code, sorted(m for m in ("numpy", "rich", "structlog") if m in sys.modules))
"""


def test_a_json_check_of_a_small_file_loads_no_rich_structlog_or_numpy(tmp_path: Path) -> None:
    made = generate("nhr-pmicd", rows=20, out=tmp_path / "small.csv", seed=3, today=TODAY)
    args = [str(made.path), "--dataset", "nhr-pmicd", "--organisation", made.organisation]
    args += ["--peildatum", TODAY.isoformat(), "--format", "json"]
    args += ["--output", str(tmp_path / "report.json")]
    done = _python(CHECK_IN_PROCESS, *args)
    assert done.stdout.strip() == "0 []", done.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["records"] == 20


GC_IN_COMMAND = """
import gc, sys
import zorgbroker.intake.cli as intake_cli
from zorgbroker.cli import main

seen = []
run_check = intake_cli.run_check
intake_cli.run_check = lambda *args: (seen.append(gc.isenabled()), run_check(*args))[1]
sys.argv = ["zorgbroker", "check", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(seen, gc.isenabled(), gc.get_freeze_count() > 0)
"""


def test_garbage_collection_is_paused_for_the_start_up_only(tmp_path: Path) -> None:
    made = generate("parabench-mi", rows=3, out=tmp_path / "p.csv", seed=1, today=TODAY)
    args = [str(made.path), "--dataset", "parabench-mi", "--format", "json"]
    done = _python(GC_IN_COMMAND, *args)
    # On while the command works, on afterwards, and what start-up made is left out of it.
    assert done.stdout.strip().splitlines()[-1] == "[True] True True", done.stderr


def test_plans_are_compiled_once_per_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    build_plans = plan.build_plans

    def counting(spec: object) -> object:
        built.append(spec)
        return build_plans(spec)  # type: ignore[arg-type]

    monkeypatch.setattr(plan, "build_plans", counting)
    spec = load_path(SHIPPED / "parabench-mi")
    made = generate("parabench-mi", rows=3, out=tmp_path / "p.csv", seed=1, today=TODAY)
    for _ in range(2):
        check_upload(made.path, spec, CheckOptions(today=TODAY, organisation=made.organisation))
    assert built == [spec]
    # Another spec object, even an equal one, gets plans of its own tables.
    other = load_path(SHIPPED / "parabench-mi")
    assert check_plans(other) is not check_plans(spec)
    assert check_plans(other)[other.main_table.name].table is other.main_table


def test_log_events_below_the_level_do_not_load_structlog() -> None:
    code = (
        "import sys\n"
        "from zorgbroker.logging import get_logger\n"
        "get_logger('x').info('event', n=1)\n"
        "print('structlog' in sys.modules)\n"
    )
    done = _python(code)
    assert (done.stdout.strip(), done.stderr) == ("False", "")


def test_log_events_at_the_level_are_written() -> None:
    out = io.StringIO()
    zb_logging.configure(stream=out, level="INFO")
    try:
        log = zb_logging.get_logger("x")
        log.debug("hidden", n=0)
        log.info("shown", n=1)
        log.warning("also", n=2)
    finally:
        zb_logging.configure()
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["event"], e["level"], e["n"]) for e in events] == [
        ("shown", "info", 1),
        ("also", "warning", 2),
    ]
