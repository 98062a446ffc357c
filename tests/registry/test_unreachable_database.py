"""An unreachable registry database gives a Dutch message and exit 3, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


@pytest.mark.parametrize(
    "args",
    [
        [
            "submit",
            "{file}",
            "--dataset",
            "nhr-pmicd",
            "--organisation",
            "01234567",
            "--mode",
            "test",
        ],
        ["uploads"],
        ["report", "1"],
        ["devices", "--serial", "ABC1234"],
    ],
    ids=["submit", "uploads", "report", "devices"],
)
def test_database_down(tmp_path: Path, args: list[str]) -> None:
    export = tmp_path / "export.csv"
    export.write_text("centrum_agb;bsn\n01234567;111222333\n", encoding="utf-8")
    env = {
        **os.environ,
        "ZORGBROKER_HOME": str(tmp_path / "home"),
        "ZORGBROKER_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/x",
    }
    done = subprocess.run(
        [sys.executable, "-m", "zorgbroker", *[a.format(file=export) for a in args]],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 3
    assert "niet bereikbaar" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
