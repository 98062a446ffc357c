"""`zorgbroker segments`: the segments of large imports listed, and merged into one
(zorgbroker.registry.upkeep), without anything a user of the registry sees changing."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.registry.conftest import Registry, nhr_row, partitions, serial_rows
from zorgbroker import logging as zb_logging
from zorgbroker.cli import app
from zorgbroker.composition import open_registry
from zorgbroker.intake.report.model import Stored
from zorgbroker.registry import importer
from zorgbroker.registry.database import lock_key, write_transaction
from zorgbroker.registry.device_query import DeviceQuery
from zorgbroker.registry.devices import find_carriers
from zorgbroker.registry.layout import layout_for
from zorgbroker.registry.segments import merge_segments, segment_name
from zorgbroker.registry.upkeep import merge_dataset

MAIN = layout_for("nhr-pmicd").main
SERIALS = MAIN.values.sql_name if MAIN.values else ""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _carriers(registry: Registry, serial: str) -> list[tuple[object, ...]]:
    found = find_carriers(
        open_registry(registry.settings),
        DeviceQuery(serial=serial),
        actor="test",
        on_behalf_of="test",
    )
    return sorted(found.select("pseudonym", "centre", "serial").iter_rows())


def _four_segments(registry: Registry) -> list[dict[str, str]]:
    """Six records in segments 1 to 3, and an update of one of them in segment 4."""
    rows = serial_rows(6)
    for part in (rows[:2], rows[2:4], rows[4:]):
        registry.submit(part)
    assert registry.submit([dict(rows[0], ontslag_datum="2026-11-12")]).stored == Stored(updated=1)
    return rows


@pytest.mark.parametrize("registry", ["postgres-segments"], indirect=True)
def test_merging_puts_every_row_in_one_segment_and_changes_nothing_a_user_sees(
    registry: Registry,
):
    rows = _four_segments(registry)  # every import in a segment of its own
    held = registry.held()
    carriers = _carriers(registry, "LA0000003")
    with open_registry(registry.settings).connect() as conn:
        assert len(partitions(conn, MAIN.sql_name)) == 5  # the (empty) base and four

    code, out, _ = run("segments", "--dataset", "nhr-pmicd", "--merge", "--format", "json")

    assert code == 0
    assert [(m["table"], m["segments"], m["into"], m["rows"]) for m in json.loads(out)] == [
        (MAIN.sql_name, 4, segment_name(MAIN.sql_name, 5), 6),
        (SERIALS, 4, segment_name(SERIALS, 5), 18),
    ]
    with open_registry(registry.settings).connect() as conn:
        assert partitions(conn, MAIN.sql_name) == {
            segment_name(MAIN.sql_name, 0): 0,
            segment_name(MAIN.sql_name, 5): 6,
        }
        assert partitions(conn, SERIALS) == {
            segment_name(SERIALS, 0): 0,
            segment_name(SERIALS, 5): 18,
        }
        # Vacuumed after the commit: every page is marked all-visible, so index-only lookups
        # (the serials) need not visit the rows. An INSERT alone leaves no page marked.
        pages, visible = conn.execute(
            text("SELECT relpages, relallvisible FROM pg_class WHERE relname = :t"),
            {"t": segment_name(SERIALS, 5)},
        ).one()
        assert pages > 0 and visible == pages
    assert registry.held().equals(held)
    assert _carriers(registry, "LA0000003") == carriers
    # The registry goes on as before: a resend changes nothing, a change replaces its record.
    current = [dict(rows[0], ontslag_datum="2026-11-12"), *rows[1:]]
    assert registry.submit(current).stored == Stored(unchanged=6)
    assert run("segments", "--dataset", "nhr-pmicd", "--merge")[1].strip() == (
        "nhr-pmicd: niets samen te voegen."
    )
    assert json.loads(run("segments", "--merge", "--format", "json")[1]) == []
    assert registry.submit([dict(rows[1], ontslag_datum="2026-11-13")]).stored == Stored(updated=1)
    assert registry.held().height == 6


@pytest.mark.parametrize("registry", ["postgres-segments"], indirect=True)
def test_a_merge_that_fails_leaves_the_segments_as_they_were(registry: Registry):
    _four_segments(registry)
    held = registry.held()
    engine = open_registry(registry.settings)
    with engine.connect() as conn:
        before = partitions(conn, MAIN.sql_name), partitions(conn, SERIALS)

    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        assert merge_segments(conn, MAIN.sql_name) is not None
        raise RuntimeError("the merge fails before its commit")

    with engine.connect() as conn:
        assert (partitions(conn, MAIN.sql_name), partitions(conn, SERIALS)) == before
    assert registry.held().equals(held)


@pytest.mark.parametrize("registry", ["postgres-segments"], indirect=True)
def test_a_merge_waits_for_the_import_that_holds_the_datasets_lock(registry: Registry):
    _four_segments(registry)
    engine = open_registry(registry.settings)
    key = lock_key("dataset:nhr-pmicd")
    outcome: list[object] = []
    # The import's transaction holds the lock; its end (here a commit) releases it, whatever
    # the test's asserts do.
    with engine.connect() as holder, holder.begin() as importing:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        merging = threading.Thread(
            target=lambda: outcome.append(merge_dataset(engine, "nhr-pmicd", actor="test"))
        )
        merging.start()
        deadline = time.monotonic() + 30
        waiting = 0
        while not waiting and time.monotonic() < deadline:
            waiting = holder.execute(
                text(
                    # A 64-bit advisory key shows as its high and low 32 bits.
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND classid::bigint = :high AND objid::bigint = :low"
                ),
                {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
            ).scalar_one()
            time.sleep(0.05)
        assert waiting == 1  # the merge is waiting for the lock, not merging
        assert outcome == []
        importing.commit()
    merging.join(timeout=60)
    assert [m.rows for m in outcome[0].tables] == [6, 18]  # type: ignore[attr-defined]


@pytest.mark.parametrize("registry", ["postgres-segments"], indirect=True)
def test_segments_lists_the_rows_of_each_segment_and_suggests_merging(registry: Registry):
    registry.submit(serial_rows(2))
    registry.submit(serial_rows(3, start=2))

    code, out, _ = run("segments", "--dataset", "nhr-pmicd", "--format", "json")

    assert code == 0
    listed = {t["table"]: t for t in json.loads(out)}
    assert [(s["number"], s["rows"]) for s in listed[MAIN.sql_name]["segments"]] == [
        (0, 0),
        (1, 2),
        (2, 3),
    ]
    assert [s["rows"] for s in listed[SERIALS]["segments"]] == [0, 6, 9]
    assert all(s["bytes"] > 0 for s in listed[MAIN.sql_name]["segments"])
    code, out, _ = run("segments", "--dataset", "nhr-pmicd")
    assert code == 0
    assert "zorgbroker segments --dataset nhr-pmicd --merge" in out
    # (as from cron: only where at least this many segments hold rows)
    code, out, _ = run("segments", "--dataset", "nhr-pmicd", "--merge", "--min-segments", "3")
    assert (code, out.strip()) == (0, "nhr-pmicd: niets samen te voegen.")
    code, out, _ = run("segments", "--dataset", "nhr-pmicd", "--merge", "--min-segments", "2")
    assert code == 0
    assert (
        f"nhr-pmicd: {MAIN.sql_name}: 2 segmenten met rijen samengevoegd tot "
        f"{segment_name(MAIN.sql_name, 3)} (5 rijen)"
    ) in out
    assert "(15 rijen)" in out  # three serials a record


@pytest.mark.parametrize("registry", ["postgres"], indirect=True)
def test_one_segment_with_rows_is_not_merged(registry: Registry):
    registry.submit(serial_rows(3))  # small: the base segment

    code, out, _ = run("segments", "--dataset", "nhr-pmicd", "--merge")

    assert (code, out.strip()) == (0, "nhr-pmicd: niets samen te voegen.")
    assert "--merge" not in run("segments", "--dataset", "nhr-pmicd")[1]


@pytest.mark.parametrize("registry", ["sqlite"], indirect=True)
def test_on_sqlite_segments_says_there_are_none(registry: Registry):
    registry.submit([nhr_row()])

    code, out, _ = run("segments", "--merge")

    assert code == 0
    assert "SQLite" in out
    assert registry.held().height == 1


@pytest.mark.parametrize("registry", ["sqlite"], indirect=True)
def test_an_unknown_dataset_is_named_in_a_dutch_usage_error(registry: Registry):
    code, _, err = run("segments", "--dataset", "nhr-pmcid")

    assert code == 2
    assert "onbekende dataset 'nhr-pmcid'" in err


@pytest.mark.parametrize("registry", ["postgres-segments"], indirect=True)
def test_an_import_past_many_segments_warns_that_merging_would_help(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(importer, "MANY_SEGMENTS", 2)
    log = io.StringIO()
    zb_logging.configure(stream=log, level="WARNING")
    try:
        registry.submit(serial_rows(1))
        registry.submit(serial_rows(1, start=1))  # two segments: no warning yet
        assert log.getvalue() == ""
        registry.submit(serial_rows(1, start=2))
    finally:
        zb_logging.configure()
    warned = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [(w["event"], w["table"], w["segments"]) for w in warned] == [
        ("store.many_segments", MAIN.sql_name, 3),
        ("store.many_segments", SERIALS, 3),
    ]
    assert warned[0]["advice"] == "zorgbroker segments --merge"
