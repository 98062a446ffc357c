"""Processes that open the TTP store for the first time at the same moment all get it."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from tests.concurrently import at_once
from zorgbroker.pseudonymisation.ttp_store import TTPStore


def _create(path: Path) -> None:
    TTPStore(path).create()  # a store of its own, as another process would open


def test_simultaneous_first_opens_of_the_store_all_succeed(tmp_path: Path) -> None:
    for attempt in range(10):
        path = tmp_path / f"ttp-{attempt}.sqlite"
        at_once(partial(_create, path), times=4)  # raises what any opener raised
        with TTPStore(path).connect() as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
