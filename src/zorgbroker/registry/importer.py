"""The production import, inside the caller's transaction: fetch, compare, write.

A handful of statements per upload, whatever its size: the upload's keys are staged in temporary
tables and joined with the stored rows (one query per identity and per comparison lookup), the
comparison runs in Polars (`compare`), and the writes are one DELETE per table and bulk inserts
(COPY on PostgreSQL; a large one into a segment of its own, `segments`). The caller holds the
dataset's lock and commits or rolls back everything.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Connection, insert, select, update

from zorgbroker.intake.api import ROW
from zorgbroker.logging import get_logger
from zorgbroker.registry import bulk, segments
from zorgbroker.registry.compare import (
    Held,
    Lookup,
    Outcome,
    compare,
    comparison_lookups,
    identity_keys,
)
from zorgbroker.registry.database import is_postgres
from zorgbroker.registry.layout import (
    ID,
    PARENT_ID,
    UPLOAD_ID,
    VALUE,
    DatasetLayout,
    TableLayout,
)
from zorgbroker.registry.models import RowIds

log = get_logger(__name__)

#: Past this many segments of large imports in a table, each import warns that merging them
#: would help: every lookup searches each segment (a 1,000-row upload into 1M records took
#: 2.76 s with them in 40 segments, 0.75 s in one; bench/bench_segments.py).
MANY_SEGMENTS = 10
IMPORT_WORK_MEM = "256MB"
#: From this many keys, and keys numbering this share of the table's rows, lookups are answered
#: from one pass over the table (see HeldRows.prefetch).
SCAN_FROM_KEYS = 20_000
SCAN_FROM_SHARE = 0.05


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
        self._by_staged_value: dict[str, pl.DataFrame] = {}
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
        return segments.estimated_rows(self.conn, self.table.sql_name)

    def prefetch(self, lookups: list[Lookup]) -> None:
        """On PostgreSQL, answer lookups with many keys from one pass over the table.

        An index join is the fastest way to find a few thousand keys. For keys numbering in the
        tens of percents of the table every lookup would scan the table anyway, and staging a
        million keys per lookup costs more than the scan: instead the table's key columns are
        read once, matched against every lookup in Polars (hash joins on all cores), and only
        the rows that matched are read in full.
        """
        if not is_postgres(self.conn):
            return
        selected = [lookup for lookup in lookups if lookup.keys.height]
        keys = sum(lookup.keys.height for lookup in selected)
        if not selected or keys < SCAN_FROM_KEYS or keys < SCAN_FROM_SHARE * self._estimated_rows():
            return
        q = self.conn.dialect.identifier_preparer.quote
        wanted = list(dict.fromkeys(c for lookup in selected for c in lookup.columns))
        key_schema = {ID: pl.Int64(), **{c: self.table.schema[c] for c in wanted}}
        sql = (f"SELECT {', '.join(q(c) for c in key_schema)} "
               f"FROM {q(self.table.sql_name)}")  # fmt: skip
        started = time.perf_counter()
        held_keys = bulk.read_frame(self.conn, sql, key_schema)
        self.seconds["query"] += time.perf_counter() - started
        matched = {key: ids.implode() for key, ids in matching_ids(held_keys, selected).items()}
        del held_keys
        ids = pl.concat([m.explode() for m in matched.values()]).unique()
        full = self._rows_by_id(ids)
        for lookup in selected:
            rows = full.filter(pl.col(ID).is_in(matched[id(lookup)]))
            self._answered.append((lookup, rows))

    def _rows_by_id(self, ids: pl.Series) -> pl.DataFrame:
        if ids.len() == 0:
            return pl.DataFrame(schema=self.table.schema)
        staged, generic = self._stage(pl.DataFrame({ID: ids}))
        q = self.conn.dialect.identifier_preparer.quote
        columns = ", ".join(f"h.{q(c)}" for c in self.table.schema)
        sql = (f"SELECT {columns} FROM {q(self.table.sql_name)} h "
               f"JOIN {staged} k ON h.{q(ID)} = k.{generic[0]}")  # fmt: skip
        started = time.perf_counter()
        rows = bulk.read_frame(self.conn, sql, self.table.schema)
        self.seconds["query"] += time.perf_counter() - started
        return rows

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
        values = self.table.values
        if values is not None and len(lookup.columns) == 1 and lookup.columns[0] in values.columns:
            rows = self._by_value(staged, generic[0]).join(
                lookup.keys, on=list(lookup.columns), how="semi"
            )
            self._answered.append((lookup, rows))
            return rows
        q = self.conn.dialect.identifier_preparer.quote
        columns = ", ".join(f"h.{q(c)}" for c in self.table.schema)
        on = " AND ".join(f"h.{q(c)} = k.{g}" for c, g in zip(lookup.columns, generic, strict=True))
        sql = f"SELECT {columns} FROM {q(self.table.sql_name)} h JOIN {staged} k ON {on}"
        started = time.perf_counter()
        rows = bulk.read_frame(self.conn, sql, self.table.schema)
        self.seconds["query"] += time.perf_counter() - started
        self._answered.append((lookup, rows))
        return rows

    def _by_value(self, staged: str, key: str) -> pl.DataFrame:
        """Rows holding one of the staged values in any serial column; the lead lookups share
        their keys, and so one query."""
        found = self._by_staged_value.get(staged)
        if found is not None:
            return found
        values = self.table.values
        assert values is not None
        q = self.conn.dialect.identifier_preparer.quote
        columns = ", ".join(f"h.{q(c)}" for c in self.table.schema)
        sql = (f"SELECT {columns} FROM {q(self.table.sql_name)} h WHERE h.{q(ID)} IN "
               f"(SELECT v.{q(ID)} FROM {q(values.sql_name)} v "
               f"JOIN {staged} k ON v.{q(VALUE)} = k.{key})")  # fmt: skip
        started = time.perf_counter()
        found = bulk.read_frame(self.conn, sql, self.table.schema)
        self.seconds["query"] += time.perf_counter() - started
        self._by_staged_value[staged] = found
        return found

    def close(self) -> None:
        for _, name in self._staged:
            bulk.unstage(self.conn, name)
        self._staged.clear()


def matching_ids(held: pl.DataFrame, lookups: list[Lookup]) -> dict[int, pl.Series]:
    """The ids of the held rows each lookup matches, by `id(lookup)`.

    Lookups of one column with the same keys (the upload's lead serials, looked up in each of
    four lead columns) are matched in one join, against those columns stacked: one hash table
    of the keys instead of one per column (1M held records: 0.25 s a column).
    """
    found: dict[int, pl.Series] = {}
    shared: list[tuple[pl.Series, list[Lookup]]] = []

    def on_its_own(lookup: Lookup) -> None:
        found[id(lookup)] = held.join(lookup.keys, on=list(lookup.columns), how="semi")[ID]

    for lookup in lookups:
        keys = lookup.keys.to_series() if len(lookup.columns) == 1 else None
        if keys is not None and held.schema[lookup.columns[0]] == keys.dtype:
            group = next((g for k, g in shared if k.len() == keys.len() and k.equals(keys)), None)
            if group is None:
                shared.append((keys, [lookup]))
            else:
                group.append(lookup)
            continue
        on_its_own(lookup)
    for keys, group in shared:
        if len(group) == 1:
            on_its_own(group[0])
            continue
        stacked = pl.concat(
            [
                held.select(
                    pl.col(ID),
                    pl.lit(n, dtype=pl.UInt16).alias("__lookup"),
                    pl.col(lookup.columns[0]).alias("__key"),
                ).drop_nulls("__key")
                for n, lookup in enumerate(group)
            ]
        )
        hits = stacked.join(keys.alias("__key").to_frame(), on="__key", how="semi")
        for n, lookup in enumerate(group):
            found[id(lookup)] = hits.filter(pl.col("__lookup") == n)[ID]
    return found


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


def value_rows(table: TableLayout, rows: pl.DataFrame) -> pl.DataFrame:
    """The serial table's rows for stored rows, in value order: inserted in that order they fill
    its index page by page instead of touching a random page per value."""
    values = table.values
    assert values is not None
    ordered = (
        pl.concat(
            [rows.select(pl.col(c).alias(VALUE), pl.col(ID)) for c in values.columns],
            how="vertical",
        )
        .drop_nulls(VALUE)
        .sort(VALUE, ID)
    )
    # A serial named twice in one record is one row; once sorted, repeats are neighbours, which
    # is cheaper to test than hashing every value for `unique`.
    repeat = (pl.col(VALUE) == pl.col(VALUE).shift()) & (pl.col(ID) == pl.col(ID).shift())
    return ordered.filter(~repeat.fill_null(False))


def _delete_values(
    conn: Connection, table: TableLayout, ids: pl.Series, count_by: str | None
) -> dict[int, int]:
    """Remove the serial table's rows of stored rows about to be deleted, found through their
    serials (the serial table's index) rather than their ids, which it does not index. With
    `count_by`, the rows removed per value of that column."""
    values = table.values
    ids = ids.drop_nulls().unique()
    if values is None or ids.len() == 0:
        return {}
    staged = bulk.stage(conn, pl.DataFrame({"id": ids.cast(pl.Int64)}), prefix="zb_ids")
    q = conn.dialect.identifier_preparer.quote
    serials = ", ".join(f"h.{q(c)}" for c in values.columns)
    found = (f"FROM {staged} k JOIN {q(table.sql_name)} h ON h.{q(ID)} = k.id "
             f"JOIN {q(values.sql_name)} v ON v.{q(VALUE)} IN ({serials}) "
             f"AND v.{q(ID)} = h.{q(ID)}")  # fmt: skip
    if is_postgres(conn):
        delete = (
            f"DELETE FROM {q(values.sql_name)} d USING (SELECT v.{q(VALUE)}, v.{q(ID)} {found}) f "
            f"WHERE d.{q(VALUE)} = f.{q(VALUE)} AND d.{q(ID)} = f.{q(ID)}"
        )
    else:
        delete = (
            f"DELETE FROM {q(values.sql_name)} WHERE ({q(VALUE)}, {q(ID)}) IN "
            f"(SELECT v.{q(VALUE)}, v.{q(ID)} {found})"
        )
    lost = bulk.count_returned(conn, delete, count_by)
    bulk.unstage(conn, staged)
    return lost


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
    segment_rows: int,
    after_batch: Callable[[int], None] | None = None,
) -> None:
    """Apply the outcome's deletes and inserts. Ids are given out here, under the dataset lock,
    so parts can point at the record they belong to."""
    # Which tables are segmented (PostgreSQL): asked of the catalog once per table.
    segmented = {
        name: segments.is_segmented(conn, name)
        for table in layout.tables.values()
        for name in table.sql_names
    }

    def segment_column(name: str) -> str | None:
        return segments.SEGMENT if segmented[name] else None

    # Segments that lost rows, per table: an emptied one is dropped once the inserts are done.
    emptying: dict[str, set[int]] = {}
    for name, change in outcome.writes.items():
        table = layout.tables[name]
        if table.values is not None:
            serials = table.values.sql_name
            lost = _delete_values(conn, table, change.delete_ids, segment_column(serials))
            emptying.setdefault(serials, set()).update(lost)
        lost = bulk.delete_ids(
            conn, table.sql_name, ID, change.delete_ids, count_by=segment_column(table.sql_name)
        )
        emptying.setdefault(table.sql_name, set()).update(lost)
    order = sorted(layout.tables.values(), key=lambda t: t.part_of is not None)
    assigned: dict[str, pl.DataFrame] = {}
    for table in order:
        pending = outcome.writes.get(table.table)
        if pending is None or pending.insert.height == 0:
            continue
        rows = pending.insert
        if table.part_of is not None:
            parents = assigned[table.part_of.parent].select(
                pl.col(ROW).alias("__parent_row"), pl.col(ID).alias(PARENT_ID)
            )
            rows = rows.join(parents, on="__parent_row", how="left", maintain_order="left")
        # Ids are given out in index order too, so the primary key's index is filled at its
        # right edge page by page, like the other index (1M rows: COPY 16 -> 13 s).
        start = _reserve_ids(conn, table, rows.height)
        rows = _in_index_order(table, rows).with_columns(
            (pl.int_range(pl.len(), dtype=pl.Int64) + start).alias(ID),
            pl.lit(upload_id, dtype=pl.Int64).alias(UPLOAD_ID),
        )
        assigned[table.table] = rows.select(ROW, ID)
        _insert(
            conn,
            table.sql_name,
            rows.select(list(table.schema)),
            batch_rows,
            segment_rows,
            segmented=segmented[table.sql_name],
            after_batch=after_batch if table.main else None,
        )
        if table.values is not None:
            serials = table.values.sql_name
            _insert(
                conn, serials, value_rows(table, rows), batch_rows, segment_rows,
                segmented=segmented[serials],
            )  # fmt: skip
    # Last, as dropping a segment locks its table against readers until the commit.
    for sql_name, numbers in emptying.items():
        segments.drop_emptied(conn, sql_name, numbers)


def _insert(
    conn: Connection,
    table: str,
    rows: pl.DataFrame,
    batch_rows: int,
    segment_rows: int,
    *,
    segmented: bool,
    after_batch: Callable[[int], None] | None = None,
) -> None:
    if segmented and rows.height >= segment_rows:
        segments.insert_as_segment(
            conn, table, rows, batch_rows=batch_rows, after_batch=after_batch
        )
        count = segments.segment_count(conn, table)
        if count > MANY_SEGMENTS:
            log.warning("store.many_segments", table=table, segments=count,
                        advice="zorgbroker segments --merge")  # fmt: skip
        return
    bulk.insert_frame(conn, table, rows, batch_rows=batch_rows, after_batch=after_batch)
    if is_postgres(conn):
        target = segments.segment_name(table, segments.BASE_SEGMENT) if segmented else table
        _keep_statistics(conn, target, rows.height)


#: An import that grows a table by this share (and by at least `ANALYZE_FROM_ROWS` rows)
#: has its statistics renewed, as autovacuum's default analyze threshold would.
ANALYZE_FROM_SHARE = 0.1
ANALYZE_FROM_ROWS = 50


def _keep_statistics(conn: Connection, table: str, added: int) -> None:
    """Renew the planner's statistics of a table this import grew by a tenth or more.

    Autovacuum does this when it comes round, if the server runs it (this project's test server
    does not). Until then the next upload's lookups are planned blind: 1,000 rows checked against
    1M held records without statistics fetched in 3.0–3.8 s, with them in 0.1–0.2 s.
    """
    if added < ANALYZE_FROM_ROWS or added < ANALYZE_FROM_SHARE * segments.estimated_rows(
        conn, table
    ):
        return
    conn.exec_driver_sql(f"ANALYZE {bulk.quote(conn, table)}")


def import_records(
    conn: Connection,
    layout: DatasetLayout,
    frames: dict[str, pl.DataFrame],
    *,
    upload_id: int,
    today: dt.date,
    organisation: str | None,
    batch_rows: int,
    segment_rows: int,
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
    write(
        conn,
        layout,
        outcome,
        upload_id,
        batch_rows=batch_rows,
        segment_rows=segment_rows,
        after_batch=after_batch,
    )
    timings["write"] = time.perf_counter() - started
    return ImportResult(outcome, timings)
