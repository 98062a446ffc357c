"""Registries for the job tests: SQLite with inline processing, and PostgreSQL with the
Procrastinate queue and real `zorgbroker worker` processes.

The PostgreSQL database is the session's fresh `zorgbroker_test_<random>` of tests/registry
(dropped afterwards); between tests every table, Procrastinate's included, is emptied. A test of
the queue's schema gets a new database of its own (`fresh_postgres_url`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.mail.conftest import smtp_server  # noqa: F401  (a fixture)
from tests.registry.conftest import (  # noqa: F401  (postgres_url is a fixture)
    AGB,
    TODAY,
    Registry,
    _empty_postgres,
    new_postgres_database,
    postgres_url,
)
from zorgbroker.settings import get_settings
from zorgbroker.uploads.models import UploadInfo

#: Workers in these tests take each other for dead after this many seconds without a heartbeat.
STALLED_SECONDS = "2"
#: The longest a test waits for workers before it fails (a hung worker, not a slow one).
PATIENCE_SECONDS = 180


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "TTP_URL", "JOBS", "SMTP_HOST", "MAIL_TO", "USER"):
        monkeypatch.delenv(f"ZORGBROKER_{name}", raising=False)


@pytest.fixture
def inline_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    _clear(monkeypatch)
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    files = tmp_path / "files"
    files.mkdir()
    return Registry(get_settings(fresh=True), files, "sqlite")


@pytest.fixture
def queue_registry(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,  # noqa: F811  (the fixture imported above)
) -> Iterator[Registry]:
    """PostgreSQL with ZORGBROKER_JOBS=procrastinate; the environment workers inherit."""
    _clear(monkeypatch)
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZORGBROKER_DATABASE_URL", postgres_url)
    monkeypatch.setenv("ZORGBROKER_JOBS", "procrastinate")
    monkeypatch.setenv("ZORGBROKER_WORKER_STALLED_SECONDS", STALLED_SECONDS)
    files = tmp_path / "files"
    files.mkdir()
    try:
        yield Registry(get_settings(fresh=True), files, "postgres")
    finally:
        _empty_postgres(postgres_url)


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test alone (the queue's schema tests)."""
    with new_postgres_database() as url:
        yield url


def submit(registry: Registry, path: Path, *, mode: str = "production") -> int:
    return registry.receive(path, mode=mode)


def upload(registry: Registry, upload_id: int) -> UploadInfo:
    return registry.get(upload_id)


def attempts(registry: Registry, upload_id: int) -> int:
    """How often processing of the upload was started."""
    return int(registry.scalar(f"SELECT attempts FROM uploads WHERE id = {int(upload_id)}"))


class Workers:
    """`zorgbroker worker` processes started by a test; all stopped at its end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def _log(self, process: subprocess.Popen[bytes]) -> Path:
        return self.folder / f"worker-{self.processes.index(process) + 1}.log"

    def start(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        self.folder.mkdir(exist_ok=True)
        log = self.folder / f"worker-{len(self.processes) + 1}.log"
        with log.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "zorgbroker", "worker", *args],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.processes.append(process)
        return process

    def output(self, process: subprocess.Popen[bytes]) -> str:
        return self._log(process).read_text(errors="replace")

    def stop(self, process: subprocess.Popen[bytes]) -> str:
        """Stop gracefully (SIGTERM) and wait; what it wrote on stderr."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return self.output(process)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    started = Workers(tmp_path / "workers")
    try:
        yield started
    finally:
        started.stop_all()


def wait_until(condition: Callable[[], bool], what: str, workers: Workers) -> None:
    """Wait for `condition`; fail if it does not come, or every worker process died."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not condition():
        alive = [p for p in workers.processes if p.poll() is None]
        if workers.processes and not alive:
            errors = "\n".join(workers.output(p)[-2000:] for p in workers.processes)
            pytest.fail(f"every worker stopped before {what}:\n{errors}")
        if time.monotonic() > deadline:
            pytest.fail(f"waited in vain for {what}")
        time.sleep(0.1)
