"""The `zorgbroker` command run as a user runs it: the installed script in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The console script that `uv sync` installs next to the interpreter.
ZORGBROKER = str(Path(sys.executable).parent / "zorgbroker")


def zorgbroker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # A fixed width, so that help pages wrap the same in a terminal and in CI.
    # At the default log level unless the test sets one.
    inherited = {k: v for k, v in os.environ.items() if k != "ZORGBROKER_LOG_LEVEL"}
    environment = {**inherited, "COLUMNS": "100", **(env or {})}
    return subprocess.run(
        [ZORGBROKER, *args], capture_output=True, text=True, env=environment, check=False
    )
