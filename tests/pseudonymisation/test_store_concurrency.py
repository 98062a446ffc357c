"""Processes that open the TTP store for the first time at the same moment all get it."""

from __future__ import annotations

import threading
from pathlib import Path

from zorgbroker.pseudonymisation.ttp_store import TTPStore


def open_at_once(path: Path, openers: int) -> list[BaseException]:
    start = threading.Barrier(openers)
    errors: list[BaseException] = []

    def create() -> None:
        try:
            start.wait()
            TTPStore(path).create()
        except BaseException as exc:  # reported by the caller, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_simultaneous_first_opens_of_the_store_all_succeed(tmp_path: Path) -> None:
    for attempt in range(10):
        path = tmp_path / f"ttp-{attempt}.sqlite"
        assert open_at_once(path, 4) == []
        with TTPStore(path).connect() as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
