"""Keeping a PostgreSQL registry in shape: the segments of large imports, listed and merged.

Every large import adds a segment to its tables (`segments`), and every lookup of every later
upload searches each segment's indexes in turn. Merging a dataset's segments puts all its rows
back into one, with freshly built indexes; an operator does it at a quiet moment
(`zorgbroker segments --merge`), as it reads and writes every row of the dataset.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine

from zorgbroker.intake.api import available
from zorgbroker.logging import get_logger
from zorgbroker.registry.database import is_postgres, lock_for_transaction, write_transaction
from zorgbroker.registry.layout import LayoutError, layout_for
from zorgbroker.registry.segments import Merged, Segment, list_segments, merge_segments

log = get_logger(__name__)


@dataclass(frozen=True)
class TableSegments:
    dataset: str
    table: str
    segments: list[Segment]


def dataset_tables(dataset: str) -> list[str]:
    """The database tables of a dataset, serial tables included."""
    return [name for table in layout_for(dataset).tables.values() for name in table.sql_names]


def known_datasets() -> list[str]:
    return [entry.name for entry in available()]


def overview(engine: Engine, datasets: Iterable[str]) -> list[TableSegments]:
    """Every segmented table of these datasets with its segments (nothing on SQLite)."""
    found = []
    with engine.connect() as conn:
        if not is_postgres(conn):
            return []
        for dataset in datasets:
            try:
                tables = dataset_tables(dataset)
            except LayoutError:
                continue  # the registry skips such a dataset too (registry_db)
            for table in tables:
                listed = list_segments(conn, table)
                if listed:
                    found.append(TableSegments(dataset, table, listed))
    return found


@dataclass(frozen=True)
class MergedDataset:
    dataset: str
    tables: list[Merged]
    seconds: float


def merge_dataset(
    engine: Engine, dataset: str, *, actor: str, min_holding: int = 2
) -> MergedDataset:
    """Merge the segments of every table of the dataset in which at least `min_holding` hold
    rows, in one transaction under the dataset's lock (imports of the dataset wait; other
    datasets carry on), then vacuum what was written."""
    started = time.perf_counter()
    merged: list[Merged] = []
    with write_transaction(engine) as conn:
        if is_postgres(conn):
            lock_for_transaction(conn, f"dataset:{dataset}")
            for table in dataset_tables(dataset):
                done = merge_segments(conn, table, min_holding=min_holding)
                if done is not None:
                    merged.append(done)
    if merged:
        # Sets the visibility map, so index-only lookups need not visit the rows, and freezes
        # the rows once now instead of in some later import's time. Outside the transaction,
        # as VACUUM must be; were it interrupted, the next vacuum would do it.
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            quote = conn.dialect.identifier_preparer.quote
            for done in merged:
                conn.exec_driver_sql(f"VACUUM (FREEZE, ANALYZE) {quote(done.into)}")
    seconds = time.perf_counter() - started
    for done in merged:
        log.info(
            "store.segments_merged",
            dataset=dataset,
            table=done.table,
            segments=len(done.before),
            into=done.into,
            rows=done.rows,
            actor=actor,
        )
    return MergedDataset(dataset, merged, seconds)
