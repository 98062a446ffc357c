"""Moving whole Polars frames in and out of the database, never a statement per record.

PostgreSQL: COPY in both directions, as CSV written and read by Polars, through the connection's
own psycopg driver and therefore inside the caller's transaction. SQLite: `executemany` in large
batches, and plain cursors for reading. Keys an upload needs looked up are staged in a temporary
table and joined, so a lookup is one query however many records the upload holds.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import polars as pl
from sqlalchemy import Connection

from zorgbroker.registry.database import is_postgres
from zorgbroker.registry.sql_types import sql_type

_counter = itertools.count(1)
#: Statements per SQLite executemany: large enough to amortise, small enough to bound memory.
SQLITE_BATCH_ROWS = 50_000


def quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _driver(conn: Connection) -> Any:
    return conn.connection.driver_connection


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates as ISO text, as SQLAlchemy itself stores them in SQLite."""
    return frame.with_columns(
        [pl.col(name).dt.to_string("%Y-%m-%d") for name, t in frame.schema.items() if t == pl.Date]
    )


def _csv(chunk: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    chunk.write_csv(buffer, include_header=False, date_format="%Y-%m-%d")
    return buffer.getvalue()


def _csv_chunks(frame: pl.DataFrame, batch_rows: int) -> Iterator[bytes]:
    """The frame as CSV, a batch at a time; the next batch is written on a second thread while
    the server takes in the current one (Polars writes without the GIL), instead of the server
    waiting for every batch to be written first."""
    slices = iter(frame.iter_slices(n_rows=batch_rows))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="zb-copy") as writer:

        def write_next() -> Future[bytes] | None:
            chunk = next(slices, None)
            return None if chunk is None else writer.submit(_csv, chunk)

        pending = write_next()
        while pending is not None:
            data = pending.result()
            pending = write_next()
            yield data


def insert_frame(
    conn: Connection,
    table: str,
    frame: pl.DataFrame,
    *,
    batch_rows: int = 100_000,
    after_batch: Callable[[int], None] | None = None,
) -> None:
    """Append the frame's rows to `table` (columns by name); `after_batch(rows_so_far)` runs
    after every batch, inside the transaction."""
    if frame.height == 0:
        return
    columns = ", ".join(quote(conn, c) for c in frame.columns)
    done = 0
    if is_postgres(conn):
        sql = f"COPY {quote(conn, table)} ({columns}) FROM STDIN (FORMAT csv)"
        with _driver(conn).cursor() as cursor:
            for data in _csv_chunks(frame, batch_rows):
                with cursor.copy(sql) as copy:
                    copy.write(data)
                done = min(frame.height, done + batch_rows)
                if after_batch is not None:
                    after_batch(done)
        return
    marks = ", ".join("?" for _ in frame.columns)
    sql = f"INSERT INTO {quote(conn, table)} ({columns}) VALUES ({marks})"
    values = _sqlite_values(frame)
    size = min(batch_rows, SQLITE_BATCH_ROWS)
    cursor = _driver(conn).cursor()
    try:
        for chunk in values.iter_slices(n_rows=size):
            cursor.executemany(sql, chunk.rows())
            done += chunk.height
            if after_batch is not None:
                after_batch(done)
    finally:
        cursor.close()


def read_frame(conn: Connection, sql: str, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The result of a query without parameters, typed by `schema` (its columns, in order)."""
    if is_postgres(conn):
        buffer = io.BytesIO()
        with (
            _driver(conn).cursor() as cursor,
            cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy,
        ):
            for data in copy:
                buffer.write(data)
        if buffer.tell() == 0:
            return pl.DataFrame(schema=schema)
        buffer.seek(0)
        return pl.read_csv(buffer, has_header=False, new_columns=list(schema), schema=schema)
    cursor = _driver(conn).cursor()
    try:
        rows = cursor.execute(sql).fetchall()
    finally:
        cursor.close()
    raw_schema = {name: (pl.String() if t == pl.Date else t) for name, t in schema.items()}
    frame = pl.DataFrame(rows, schema=raw_schema, orient="row")
    return frame.with_columns(
        [pl.col(name).str.to_date("%Y-%m-%d") for name, t in schema.items() if t == pl.Date]
    )


def stage(conn: Connection, frame: pl.DataFrame, *, prefix: str = "zb_keys") -> str:
    """A temporary table holding the frame's rows (for joins); dropped with `unstage`."""
    name = f"{prefix}_{next(_counter)}"
    cols = ", ".join(
        f"{quote(conn, c)} {sql_type(t).compile(dialect=conn.dialect)}"
        for c, t in frame.schema.items()
    )
    if is_postgres(conn):
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ({cols}) ON COMMIT DROP")
    else:
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {name} ({cols})")
    insert_frame(conn, name, frame)
    if is_postgres(conn) and frame.height > 1000:
        # Temporary tables have no statistics until analysed; without them the planner guesses.
        conn.exec_driver_sql(f"ANALYZE {name}")
    return name


def unstage(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


def delete_ids(conn: Connection, table: str, column: str, ids: pl.Series) -> None:
    """DELETE the rows whose `column` is one of `ids`, in one statement."""
    ids = ids.drop_nulls().unique()
    if ids.len() == 0:
        return
    staged = stage(conn, pl.DataFrame({"id": ids.cast(pl.Int64)}), prefix="zb_ids")
    conn.exec_driver_sql(f"DELETE FROM {quote(conn, table)} "
                         f"WHERE {quote(conn, column)} IN (SELECT id FROM {staged})")  # fmt: skip
    unstage(conn, staged)


def estimated_rows(conn: Connection, table: str) -> float:
    """The PostgreSQL planner's row count of a table; 0 when it has none yet."""
    found = conn.exec_driver_sql(
        "SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = to_regclass(%(name)s)",
        {"name": quote(conn, table)},
    ).scalar()
    return float(found or 0.0)
