"""The production import, inside the caller's transaction: fetch, compare, write.

A handful of statements per upload, whatever its size: the upload's keys are staged in temporary
tables and joined with the stored rows (one query per identity and per comparison lookup), the
comparison runs in Polars (`compare`), and the writes are one DELETE per table and bulk inserts
(COPY on PostgreSQL; for an import that is large compared with its table, the indexes are dropped
first and built again afterwards, `_bulk_indexes`). The caller holds the dataset's lock and
commits or rolls back everything.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy import Connection, Table, insert, select, update

from zorgbroker.intake.api import ROW
from zorgbroker.logging import get_logger
from zorgbroker.registry import bulk, data_tables
from zorgbroker.registry.columns import ID, PARENT_ID, UPLOAD_ID, VALUE
from zorgbroker.registry.compare import Outcome, compare, comparison_lookups, identity_keys
from zorgbroker.registry.comparisons import Held, Lookup
from zorgbroker.registry.database import is_postgres
from zorgbroker.registry.layout import DatasetLayout, TableLayout
from zorgbroker.registry.models import RowIds

log = get_logger(__name__)

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
        return bulk.estimated_rows(self.conn, self.table.sql_name)

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
    of the keys instead of one per column (docs/benchmarks.md).
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


def _delete_values(conn: Connection, table: TableLayout, ids: pl.Series) -> None:
    """Remove the serial table's rows of stored rows about to be deleted, found through their
    serials (the serial table's index) rather than their ids, which it does not index."""
    values = table.values
    ids = ids.drop_nulls().unique()
    if values is None or ids.len() == 0:
        return
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
    conn.exec_driver_sql(delete)
    bulk.unstage(conn, staged)


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
        table = layout.tables[name]
        if table.values is not None:
            _delete_values(conn, table, change.delete_ids)
        bulk.delete_ids(conn, table.sql_name, ID, change.delete_ids)
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
        # right edge page by page, like the other index.
        start = _reserve_ids(conn, table, rows.height)
        rows = _in_index_order(table, rows).with_columns(
            (pl.int_range(pl.len(), dtype=pl.Int64) + start).alias(ID),
            pl.lit(upload_id, dtype=pl.Int64).alias(UPLOAD_ID),
        )
        assigned[table.table] = rows.select(ROW, ID)
        _insert(
            conn,
            data_tables.table_for(table),
            rows.select(list(table.schema)),
            batch_rows,
            after_batch=after_batch if table.main else None,
        )
        if table.values is not None:
            serials = data_tables.value_table_for(table.values)
            _insert(conn, serials, value_rows(table, rows), batch_rows)


#: An import that adds at least this share of a table's rows (and at least
#: `REBUILD_FROM_ROWS`) drops the indexes that take its rows at random places and builds them
#: again after the COPY (docs/benchmarks.md, "Registry import").
REBUILD_FROM_SHARE = 0.5
REBUILD_FROM_ROWS = 100_000


def _insert(
    conn: Connection,
    table: Table,
    rows: pl.DataFrame,
    batch_rows: int,
    *,
    after_batch: Callable[[int], None] | None = None,
) -> None:
    if not is_postgres(conn):
        bulk.insert_frame(conn, table.name, rows, batch_rows=batch_rows, after_batch=after_batch)
        return
    held = bulk.estimated_rows(conn, table.name)
    if rows.height >= REBUILD_FROM_ROWS and rows.height >= REBUILD_FROM_SHARE * held:
        with _bulk_indexes(conn, table):
            bulk.insert_frame(
                conn, table.name, rows, batch_rows=batch_rows, after_batch=after_batch
            )
    else:
        bulk.insert_frame(conn, table.name, rows, batch_rows=batch_rows, after_batch=after_batch)
    _keep_statistics(conn, table.name, rows.height, held)


@contextmanager
def _bulk_indexes(conn: Connection, table: Table) -> Iterator[None]:
    """PostgreSQL's advice for populating a table: drop its indexes, load, build them again.

    Appending many rows to a large B-tree puts each key at a random page of an index larger
    than the server's buffers; building it afresh sorts all keys once and writes it page by
    page. All of it happens in the import's transaction: a rolled-back or killed import leaves
    the indexes as they were, and the primary key is checked again when it is rebuilt. A
    primary key that starts with the row id stays: ids are given out in order, at its right
    edge. Readers of the table wait for the commit (DROP INDEX locks it).
    """
    q = conn.dialect.identifier_preparer.quote
    key = table.primary_key
    rebuild_key = bool(key.columns) and key.name is not None and key.columns[0].name != ID
    for index in table.indexes:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {q(str(index.name))}")
    if rebuild_key:
        conn.exec_driver_sql(f"ALTER TABLE {q(table.name)} DROP CONSTRAINT {q(str(key.name))}")
    yield
    if rebuild_key:
        columns = ", ".join(q(c.name) for c in key.columns)
        conn.exec_driver_sql(
            f"ALTER TABLE {q(table.name)} ADD CONSTRAINT {q(str(key.name))} PRIMARY KEY ({columns})"
        )
    for index in table.indexes:
        index.create(conn)


#: An import that grows a table by this share (and by at least `ANALYZE_FROM_ROWS` rows)
#: has its statistics renewed, as autovacuum's default analyze threshold would.
ANALYZE_FROM_SHARE = 0.1
ANALYZE_FROM_ROWS = 50


def _keep_statistics(conn: Connection, table: str, added: int, held: float) -> None:
    """Renew the planner's statistics of a table this import grew by a tenth or more.

    Autovacuum does this when it comes round, if the server runs it (this project's test server
    does not). Until then the next upload's lookups are planned blind, many times slower
    (docs/benchmarks.md, "Statistics kept by the importer").
    """
    if added < ANALYZE_FROM_ROWS or added < ANALYZE_FROM_SHARE * held:
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
        after_batch=after_batch,
    )
    timings["write"] = time.perf_counter() - started
    return ImportResult(outcome, timings)
