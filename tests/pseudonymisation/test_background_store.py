"""The embedded TTP can write its re-identification store on a thread of its own while the
registry goes on; `settle` is the moment the rows (and their audit entry) are there."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import polars as pl
import pytest

from tests.pseudonymisation.conftest import BSNS
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty
from zorgbroker.pseudonymisation.ttp_store import TTPStore


def _kept(ttp: TrustedThirdParty) -> int:
    with ttp.store.connect() as db:
        return int(db.execute("SELECT COUNT(*) FROM reid").fetchone()[0])


def _pseudonymisations(ttp: TrustedThirdParty) -> int:
    return sum(e["action"] == "pseudonimisering" for e in ttp.audit.entries())


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Store writes wait until the gate opens."""
    opened = threading.Event()
    write = TTPStore.store_sealed_in_order

    def held_back(self: TTPStore, *args: Any) -> None:
        assert opened.wait(30)
        write(self, *args)

    monkeypatch.setattr(TTPStore, "store_sealed_in_order", held_back)
    return opened


def test_within_the_block_pseudonyms_come_before_their_store_and_settle_waits(
    ttp: TrustedThirdParty, gate: threading.Event
) -> None:
    p = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=ttp.home)
    with p.storing_in_background() as settle:
        pseudonyms = p.pseudonymise(pl.Series(BSNS))
        assert pseudonyms.null_count() == 0
        assert _kept(ttp) == 0 and _pseudonymisations(ttp) == 0  # not yet: the gate is shut
        gate.set()
        settle()
        assert _kept(ttp) == len(BSNS)
        assert _pseudonymisations(ttp) == 1  # the audit entry follows its rows


def test_a_failed_store_write_is_raised_by_settle_and_leaves_no_audit_entry(
    ttp: TrustedThirdParty, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: TTPStore, *args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(TTPStore, "store_sealed_in_order", broken)
    p = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=ttp.home)
    with pytest.raises(sqlite3.OperationalError), p.storing_in_background() as settle:
        p.pseudonymise(pl.Series(BSNS))
        settle()
    assert _pseudonymisations(ttp) == 0


def test_leaving_the_block_waits_for_the_writes_even_without_settle(
    ttp: TrustedThirdParty, gate: threading.Event
) -> None:
    p = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=ttp.home)
    threading.Timer(0.3, gate.set).start()
    with p.storing_in_background():
        p.pseudonymise(pl.Series(BSNS))
    assert _kept(ttp) == len(BSNS)


def test_another_thread_stores_before_it_returns(
    ttp: TrustedThirdParty, gate: threading.Event
) -> None:
    """Only the thread that opened the block hands its writes over; a TTP shared with another
    thread keeps storing before it answers there."""
    p = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=ttp.home)
    seen: list[int] = []

    def elsewhere() -> None:
        p.pseudonymise(pl.Series(BSNS[:2]))
        seen.append(_kept(ttp))

    threading.Timer(0.3, gate.set).start()  # handed over, the write would still wait here
    with p.storing_in_background():
        other = threading.Thread(target=elsewhere)
        other.start()
        other.join()
    assert seen == [2]


def test_without_the_block_the_store_is_written_before_pseudonymise_returns(
    ttp: TrustedThirdParty,
) -> None:
    p = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=ttp.home)
    p.pseudonymise(pl.Series(BSNS))
    assert _kept(ttp) == len(BSNS) and _pseudonymisations(ttp) == 1
