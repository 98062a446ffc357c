"""The production import, inside the caller's transaction: fetch, compare, write.

A handful of statements per upload, whatever its size: the upload's keys are staged in temporary
tables and joined with the stored rows (one query per identity and per comparison lookup), the
comparison runs in Polars (`compare`), and the writes are one DELETE per table and bulk inserts
(COPY on PostgreSQL). The caller holds the dataset's lock and commits or rolls back everything.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Connection, insert, select, update

from zorgbroker.store import bulk
from zorgbroker.store.compare import (
    Held,
    Lookup,
    Outcome,
    compare,
    comparison_lookups,
    identity_keys,
)
from zorgbroker.store.database import is_postgres
from zorgbroker.store.layout import ID, PARENT_ID, UPLOAD_ID, DatasetLayout, TableLayout
from zorgbroker.store.models import RowIds

ROW = "__row"
IMPORT_WORK_MEM = "256MB"
#: From this many keys on, lookups may share one scan of the table (see HeldRows.prefetch).
SCAN_FROM_KEYS = 20_000


@dataclass
class ImportResult:
    outcome: Outcome
    timings: dict[str, float] = field(default_factory=dict)


class HeldRows:
    """Stored rows of one table by lookups, in as few queries as the lookups allow.

    A key set is staged once however many columns it is matched against (lead serial numbers
    against four lead columns), and a lookup whose columns include an earlier lookup's columns,
    with keys the earlier one covered, is answered by filtering the earlier rows: all held
    procedures of the upload's patients already hold every identity and (patient, date) match.
    """

    def __init__(self, conn: Connection, table: TableLayout) -> None:
        self.conn = conn
        self.table = table
        self._answered: list[tuple[Lookup, pl.DataFrame]] = []
        self._staged: list[tuple[pl.DataFrame, str]] = []
        #: Seconds spent staging keys and querying, for the upload's timings.
        self.seconds = {"stage": 0.0, "query": 0.0}

    def _stage(self, keys: pl.DataFrame) -> tuple[str, list[str]]:
        generic = keys.rename({c: f"k{i}" for i, c in enumerate(keys.columns)})
        for frame, name in self._staged:
            if frame.schema == generic.schema and frame.equals(generic):
                return name, list(generic.columns)
        started = time.perf_counter()
        name = bulk.stage(self.conn, generic)
        self.seconds["stage"] += time.perf_counter() - started
        self._staged.append((generic, name))
        return name, list(generic.columns)

    def _covered_by(self, lookup: Lookup) -> pl.DataFrame | None:
        for earlier, rows in self._answered:
            if not set(earlier.columns) <= set(lookup.columns):
                continue
            needed = lookup.keys.select(earlier.columns).unique()
            if needed.join(earlier.keys, on=list(earlier.columns), how="anti").height == 0:
                return rows.join(lookup.keys, on=list(lookup.columns), how="semi")
        return None

    def _estimated_rows(self) -> float:
        found = self.conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(name)s)",
            {"name": self.table.sql_name},
        ).scalar()
        return float(found) if found is not None and found > 0 else 0.0

    def prefetch(self, lookups: list[Lookup]) -> None:
        """On PostgreSQL, answer lookups with many keys in one pass over the table.

        An index join is the fastest way to find a few thousand keys; for keys numbering in the
        tens of percents of the table, every lookup would scan the whole table anyway, so one
        scan that tests all lookups at once (hashed sub-plans) replaces one scan per lookup.
        """
        if not is_postgres(self.conn):
            return
        selected: list[Lookup] = []
        for lookup in sorted(lookups, key=lambda w: len(w.columns)):
            if lookup.keys.height and not any(
                set(e.columns) <= set(lookup.columns)
                and lookup.keys.select(e.columns)
                .unique()
                .join(e.keys, on=list(e.columns), how="anti")
                .height
                == 0
                for e in selected
            ):
                selected.append(lookup)
        keys = sum(lookup.keys.height for lookup in selected)
        if len(selected) < 2 or keys < SCAN_FROM_KEYS or keys * 20 < self._estimated_rows():
            return
        q = self.conn.dialect.identifier_preparer.quote
        tests = []
        for lookup in selected:
            staged, generic = self._stage(lookup.keys)
            left = ", ".join(f"h.{q(c)}" for c in lookup.columns)
            tests.append(f"({left}) IN (SELECT {', '.join(generic)} FROM {staged})")
        columns = ", ".join(f"h.{q(c)}" for c in self.table.schema)
        sql = (f"SELECT {columns} FROM {q(self.table.sql_name)} h WHERE "
               + " OR ".join(tests))  # fmt: skip
        started = time.perf_counter()
        union = bulk.read_frame(self.conn, sql, self.table.schema)
        self.seconds["query"] += time.perf_counter() - started
        for lookup in selected:
            rows = union.join(lookup.keys, on=list(lookup.columns), how="semi")
            self._answered.append((lookup, rows))

    def rows(self, lookup: Lookup) -> pl.DataFrame:
        for earlier, rows in self._answered:
            if earlier is lookup:
                return rows
        if lookup.keys.height == 0:
            return pl.DataFrame(schema=self.table.schema)
        found = self._covered_by(lookup)
        if found is not None:
            return found
        staged, generic = self._stage(lookup.keys)
        q = self.conn.dialect.identifier_preparer.quote
        columns = ", ".join(f"h.{q(c)}" for c in self.table.schema)
        on = " AND ".join(f"h.{q(c)} = k.{g}" for c, g in zip(lookup.columns, generic, strict=True))
        sql = f"SELECT {columns} FROM {q(self.table.sql_name)} h JOIN {staged} k ON {on}"
        started = time.perf_counter()
        rows = bulk.read_frame(self.conn, sql, self.table.schema)
        self.seconds["query"] += time.perf_counter() - started
        self._answered.append((lookup, rows))
        return rows

    def close(self) -> None:
        for _, name in self._staged:
            bulk.unstage(self.conn, name)
        self._staged.clear()


def fetch_rows(conn: Connection, table: TableLayout, lookup: Lookup) -> pl.DataFrame:
    """Stored rows of `table` whose lookup columns equal one of the lookup's key rows."""
    held = HeldRows(conn, table)
    try:
        return held.rows(lookup)
    finally:
        held.close()


def fetch_held(
    conn: Connection,
    layout: DatasetLayout,
    frames: dict[str, pl.DataFrame],
    timings: dict[str, float] | None = None,
) -> Held:
    held = Held()
    main = layout.main
    lookups = comparison_lookups(layout, frames[main.table])
    main_identity = identity_keys(layout, main, frames[main.table])
    wanted = [*lookups, *([main_identity] if main_identity else [])]
    main_rows = HeldRows(conn, main)
    try:
        main_rows.prefetch(wanted)
        # Fewest columns first: their rows can answer the lookups that add columns.
        for lookup in sorted(wanted, key=lambda w: len(w.columns)):
            rows = main_rows.rows(lookup)
            if lookup is main_identity:
                held.identity[main.table] = rows
            else:
                held.lookups[lookup.columns] = rows
    finally:
        main_rows.close()
    if timings is not None:
        timings.update({f"fetch_{k}": v for k, v in main_rows.seconds.items()})
    for table in layout.tables.values():
        identity = identity_keys(layout, table, frames[table.table])
        if identity is not None and not table.main:
            held.identity[table.table] = fetch_rows(conn, table, identity)
    for table in layout.tables.values():
        link = table.part_of
        if link is None:
            continue
        parents = held.identity.get(link.parent, pl.DataFrame(schema={ID: pl.Int64}))
        keys = parents.select(pl.col(ID).alias(PARENT_ID)).unique()
        held.parts[table.table] = fetch_rows(conn, table, Lookup((PARENT_ID,), keys))
    return held


def _reserve_ids(conn: Connection, table: TableLayout, count: int) -> int:
    """The first of `count` fresh row ids for `table` (the caller holds the dataset's lock)."""
    last = conn.execute(
        select(RowIds.last_id).where(RowIds.table_name == table.sql_name)
    ).scalar_one_or_none()
    if last is None:
        q = bulk.quote(conn, table.sql_name)
        found = conn.exec_driver_sql(f"SELECT COALESCE(MAX({bulk.quote(conn, ID)}), 0) FROM {q}")
        last = int(found.scalar_one())
        conn.execute(insert(RowIds).values(table_name=table.sql_name, last_id=last + count))
    else:
        conn.execute(
            update(RowIds).where(RowIds.table_name == table.sql_name).values(last_id=last + count)
        )
    return int(last) + 1


def _in_index_order(table: TableLayout, rows: pl.DataFrame) -> pl.DataFrame:
    """The rows sorted by the table's first full index (for the main table: patient and date).
    Its keys are pseudonyms, random: inserted in random order, every row dirties another page of
    an index that outgrows the server's buffers; in order they fill it page by page."""
    full = [index.columns for index in table.indexes if not index.partial]
    if not full or rows.height < 2:
        return rows
    return rows.sort(list(full[0]), nulls_last=True, maintain_order=True)


def write(
    conn: Connection,
    layout: DatasetLayout,
    outcome: Outcome,
    upload_id: int,
    *,
    batch_rows: int,
    after_batch: Callable[[int], None] | None = None,
) -> None:
    """Apply the outcome's deletes and inserts. Ids are given out here, under the dataset lock,
    so parts can point at the record they belong to."""
    for name, change in outcome.writes.items():
        bulk.delete_ids(conn, layout.tables[name].sql_name, ID, change.delete_ids)
    order = sorted(layout.tables.values(), key=lambda t: t.part_of is not None)
    assigned: dict[str, pl.DataFrame] = {}
    for table in order:
        pending = outcome.writes.get(table.table)
        if pending is None or pending.insert.height == 0:
            continue
        start = _reserve_ids(conn, table, pending.insert.height)
        rows = pending.insert.with_columns(
            (pl.int_range(pl.len(), dtype=pl.Int64) + start).alias(ID),
            pl.lit(upload_id, dtype=pl.Int64).alias(UPLOAD_ID),
        )
        if table.part_of is not None:
            parents = assigned[table.part_of.parent].select(
                pl.col(ROW).alias("__parent_row"), pl.col(ID).alias(PARENT_ID)
            )
            rows = rows.join(parents, on="__parent_row", how="left", maintain_order="left")
        assigned[table.table] = rows.select(ROW, ID)
        bulk.insert_frame(
            conn,
            table.sql_name,
            _in_index_order(table, rows.select(list(table.schema))),
            batch_rows=batch_rows,
            after_batch=after_batch if table.main else None,
        )


def import_records(
    conn: Connection,
    layout: DatasetLayout,
    frames: dict[str, pl.DataFrame],
    *,
    upload_id: int,
    today: dt.date,
    organisation: str | None,
    batch_rows: int,
    after_batch: Callable[[int], None] | None = None,
) -> ImportResult:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    if is_postgres(conn):
        # Joins of a large upload's keys with the held rows hash in memory instead of in batches
        # on disk; for this transaction only.
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{IMPORT_WORK_MEM}'")
    held = fetch_held(conn, layout, frames, timings)
    timings["fetch"] = time.perf_counter() - started
    started = time.perf_counter()
    outcome = compare(layout, frames, held, today=today, organisation=organisation)
    timings["compare"] = time.perf_counter() - started
    started = time.perf_counter()
    write(conn, layout, outcome, upload_id, batch_rows=batch_rows, after_batch=after_batch)
    timings["write"] = time.perf_counter() - started
    return ImportResult(outcome, timings)
