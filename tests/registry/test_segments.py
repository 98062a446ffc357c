"""Large imports on PostgreSQL go into segments of their own (zorgbroker.registry.segments).

The scenarios of the registry run across segments through the `postgres-segments` registry;
these tests check the mechanism itself: where rows land, that the segment's indexes are the
parent's (none twice), that updates and recalls reach rows in any segment, and that a table made
before segments existed becomes the base segment of one, rows, indexes and all.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from sqlalchemy import Connection, text

from tests.registry.conftest import (
    AGB,
    Registry,
    new_postgres_database,
    partitions,
    serial_rows,
)
from zorgbroker.composition import open_registry
from zorgbroker.intake.report.model import Stored
from zorgbroker.registry import bulk, data_tables
from zorgbroker.registry.database import engine_for
from zorgbroker.registry.device_query import DeviceQuery
from zorgbroker.registry.devices import find_carriers
from zorgbroker.registry.layout import layout_for
from zorgbroker.registry.segments import segment_name
from zorgbroker.settings import get_settings

pytestmark = pytest.mark.postgres

MAIN = layout_for("nhr-pmicd").main
SERIALS = MAIN.values.sql_name if MAIN.values else ""


def _index_count(conn: Connection, table: str) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM pg_index WHERE indrelid = to_regclass(:t)"), {"t": table}
        ).scalar_one()
    )


def _attached_indexes(conn: Connection, table: str) -> int:
    """Indexes of a segment that are partitions of one of its parent's indexes."""
    return int(
        conn.execute(
            text(
                "SELECT count(*) FROM pg_index x JOIN pg_inherits i ON i.inhrelid = x.indexrelid "
                "WHERE x.indrelid = to_regclass(:t)"
            ),
            {"t": table},
        ).scalar_one()
    )


@pytest.mark.parametrize("registry", ["postgres"], indirect=True)
def test_a_large_import_gets_a_segment_with_the_parents_indexes(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    segmented = registry
    monkeypatch.setenv("ZORGBROKER_IMPORT_SEGMENT_ROWS", "50")
    segmented.settings = get_settings(fresh=True)
    segmented.submit(serial_rows(10))  # small: into the base segment
    segmented.submit(serial_rows(60, start=10))  # large: a segment of its own

    with open_registry(segmented.settings).connect() as conn:
        main, serials = partitions(conn, MAIN.sql_name), partitions(conn, SERIALS)
        assert main == {segment_name(MAIN.sql_name, 0): 10, segment_name(MAIN.sql_name, 1): 60}
        # three serials a record
        assert serials == {segment_name(SERIALS, 0): 30, segment_name(SERIALS, 1): 180}
        for parent in (MAIN.sql_name, SERIALS):
            # every index of the segment is a partition of one of the parent's: the ones built
            # before ATTACH matched the parent's, so none is there twice
            assert _index_count(conn, segment_name(parent, 1)) == _index_count(
                conn, segment_name(parent, 0)
            )
            assert _attached_indexes(conn, segment_name(parent, 1)) == _index_count(
                conn, segment_name(parent, 1)
            )
        # the planner has column statistics of the new segment (not only its size)
        analysed = conn.execute(
            text("SELECT count(*) FROM pg_stats WHERE tablename = :t AND attname = 'bsn'"),
            {"t": segment_name(MAIN.sql_name, 1)},
        ).scalar_one()
        assert analysed == 1
    assert segmented.held().height == 70


@pytest.mark.parametrize("registry", ["postgres-segments"], indirect=True)
def test_updates_resends_and_recalls_reach_rows_in_any_segment(registry: Registry):
    segmented = registry  # every import in a segment of its own
    assert segmented.settings.import_segment_rows == 1
    rows = serial_rows(5)
    assert segmented.submit(rows).stored == Stored(new=5)
    assert segmented.submit(rows).stored == Stored(unchanged=5)
    changed = [dict(rows[0], ontslag_datum="2026-11-12")]
    assert segmented.submit(changed).stored == Stored(updated=1)

    held = segmented.held()
    assert held.height == 5
    assert held["ontslag_datum"].to_list().count(dt.date(2026, 11, 12)) == 1
    with open_registry(segmented.settings).connect() as conn:
        main = partitions(conn, MAIN.sql_name)
    # the first import's segment lost the replaced version; the third holds the new one
    assert sorted(main.values()) == [0, 1, 4]
    assert main[segment_name(MAIN.sql_name, 1)] == 4
    assert main[segment_name(MAIN.sql_name, 2)] == 1
    found = find_carriers(
        open_registry(segmented.settings),
        DeviceQuery(serial="GEN0000000"),
        actor="test",
        on_behalf_of="test",
    )
    assert found["centre"].to_list() == [AGB]
    assert (
        found["pseudonym"].to_list()
        == held.filter(held["serienummer"] == "GEN0000000")["bsn"].to_list()
    )


@pytest.mark.parametrize("registry", ["postgres-segments"], indirect=True)
def test_a_segment_whose_rows_were_all_replaced_is_dropped(registry: Registry):
    segmented = registry  # every import in a segment of its own
    rows = serial_rows(4)
    segmented.submit(rows)  # segment 1
    segmented.submit(serial_rows(2, start=4))  # segment 2
    first = {p: segment_name(p, 1) for p in (MAIN.sql_name, SERIALS)}
    # a resend of the first import with every record corrected: all four replaced
    corrected = [dict(row, ontslag_datum="2026-11-12") for row in rows]
    assert segmented.submit(corrected).stored == Stored(updated=4)

    with open_registry(segmented.settings).connect() as conn:
        main, serials = partitions(conn, MAIN.sql_name), partitions(conn, SERIALS)
        left = conn.execute(
            text("SELECT count(*) FROM pg_class WHERE relname IN (:a, :b)"),
            {"a": first[MAIN.sql_name], "b": first[SERIALS]},
        ).scalar_one()
    assert left == 0  # gone from the database, not only detached
    assert main == {segment_name(MAIN.sql_name, n): c for n, c in ((0, 0), (2, 2), (3, 4))}
    assert serials == {segment_name(SERIALS, n): c for n, c in ((0, 0), (2, 6), (3, 12))}
    held = segmented.held()
    assert held.height == 6
    assert held["ontslag_datum"].to_list().count(dt.date(2026, 11, 12)) == 4
    # the next import numbers its segment past the highest one left
    segmented.submit(serial_rows(1, start=6))
    with open_registry(segmented.settings).connect() as conn:
        assert partitions(conn, MAIN.sql_name)[segment_name(MAIN.sql_name, 4)] == 1
    found = find_carriers(
        open_registry(segmented.settings),
        DeviceQuery(serial="LA0000002"),
        actor="test",
        on_behalf_of="test",
    )
    assert (
        found["pseudonym"].to_list()
        == held.filter(held["lead1_serienummer"] == "LA0000002")["bsn"].to_list()
    )


@pytest.mark.parametrize("registry", ["postgres"], indirect=True)
def test_a_table_made_before_segments_becomes_the_base_segment_with_its_rows(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    rows = serial_rows(3)
    registry.submit(rows)
    held = registry.held()
    with open_registry(registry.settings).connect() as conn:
        serials = bulk.read_frame(
            conn, f"SELECT value, _id FROM {SERIALS}", {"value": pl.String(), "_id": pl.Int64()}
        )

    # The same rows in another database, in plain tables as the registry made them before
    with new_postgres_database() as url:
        with engine_for(url).begin() as conn:
            data_tables.table_for(MAIN).create(conn)
            assert MAIN.values is not None
            data_tables.value_table_for(MAIN.values).create(conn)
            bulk.insert_frame(conn, MAIN.sql_name, held)
            bulk.insert_frame(conn, SERIALS, serials)
        monkeypatch.setenv("ZORGBROKER_DATABASE_URL", url)
        registry.settings = get_settings(fresh=True)
        try:
            with open_registry(registry.settings).connect() as conn:
                kinds = conn.execute(
                    text("SELECT relkind FROM pg_class WHERE relname IN (:a, :b)"),
                    {"a": MAIN.sql_name, "b": SERIALS},
                ).scalars()
                assert list(kinds) == ["p", "p"]
                assert partitions(conn, MAIN.sql_name) == {segment_name(MAIN.sql_name, 0): 3}
                assert partitions(conn, SERIALS) == {segment_name(SERIALS, 0): 9}
                for parent in (MAIN.sql_name, SERIALS):
                    # the old indexes serve as the base segment's part of the parent's
                    assert _index_count(conn, parent) == _index_count(conn, segment_name(parent, 0))
                    assert _attached_indexes(conn, segment_name(parent, 0)) == _index_count(
                        conn, parent
                    )
            assert registry.held().equals(held)
            assert registry.submit(rows).stored == Stored(unchanged=3)
            found = find_carriers(
                open_registry(registry.settings),
                DeviceQuery(serial="LA0000001"),
                actor="t",
                on_behalf_of="t",
            )
            carrier = held.filter(held["lead1_serienummer"] == "LA0000001")["bsn"]
            assert found["pseudonym"].to_list() == carrier.to_list()
        finally:
            engine_for(url).dispose()


def test_segment_names_fit_postgresql_and_stay_apart_for_long_table_names():
    short = "data_nhr_pmicd__main"
    assert segment_name(short, 12) == "data_nhr_pmicd__main__s12"
    first = "data_" + "x" * 50 + "__table_one"
    second = "data_" + "x" * 50 + "__table_two"
    names = {segment_name(first, 7), segment_name(second, 7)}
    assert len(names) == 2
    assert all(len(n) <= 63 and n.endswith("__s7") for n in names)


@pytest.mark.parametrize("registry", ["postgres"], indirect=True)
def test_an_import_that_grows_a_table_by_a_tenth_renews_its_statistics(registry: Registry):
    # Small imports go to the base segment; whether autovacuum runs is the server's business
    # (this project's test server has it off), so the importer keeps the statistics itself.
    base = segment_name(MAIN.sql_name, 0)

    def planned_rows() -> float:
        return float(
            registry.scalar(f"SELECT reltuples FROM pg_class WHERE oid = to_regclass('{base}')")
        )

    registry.submit(serial_rows(60))
    assert planned_rows() == 60
    registry.submit(serial_rows(5, start=60))  # less than a tenth more: left to autovacuum
    assert planned_rows() == 60
    registry.submit(serial_rows(60, start=65))
    assert planned_rows() == 125
