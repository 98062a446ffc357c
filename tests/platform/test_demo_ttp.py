"""`zorgbroker demo` runs the TTP as a process of its own, with its own state folder, and never
leaves it behind: not after Ctrl-C, not when the demo fails after starting it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import _free_port
from zorgbroker.platform.ttp_process import running_ttp

pytestmark = pytest.mark.slow


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # The parent's id follows the state, after the command name in parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = command
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = {**os.environ, "ZORGBROKER_HOME": str(tmp_path / "home")}
    for name in ("ZORGBROKER_DATABASE_URL", "ZORGBROKER_TTP_URL", "ZORGBROKER_TTP_TOKEN"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "zorgbroker", "demo", "--port", str(_free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line)
        if line.startswith("Gegevens van de demo"):
            break
    yield process, "".join(printed)
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_the_demo_runs_the_ttp_as_its_own_process_and_stops_it_at_ctrl_c(
    demo: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    process, printed = demo
    found = re.search(r"De TTP draait als eigen proces op (http://127\.0\.0\.1:\d+)", printed)
    assert found, printed
    ttp_url = found.group(1)
    assert httpx.get(f"{ttp_url}/v1/health").json() == {"status": "ok"}
    ttp_pids = [pid for pid, command in _children(process.pid).items() if "ttp serve" in command]
    assert len(ttp_pids) == 1, _children(process.pid)
    ttp_pid = ttp_pids[0]
    assert ttp_pid != process.pid
    assert (tmp_path / "home" / "ttp" / "ttp.sqlite").is_file()

    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Demo gestopt." in out
    assert not _alive(ttp_pid)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{ttp_url}/v1/health", timeout=2)


def test_the_ttp_process_is_stopped_when_the_demo_fails_after_starting_it(
    tmp_path: Path,
) -> None:
    with (
        pytest.raises(RuntimeError, match="portaal start niet"),
        running_ttp(tmp_path, source="01234567") as ttp,
    ):
        assert httpx.get(f"{ttp.url}/v1/health").status_code == 200
        assert _alive(ttp.pid)
        raise RuntimeError("portaal start niet")
    assert not _alive(ttp.pid)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{ttp.url}/v1/health", timeout=2)
