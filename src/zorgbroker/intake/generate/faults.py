"""Seeding faults into a generated table: one fault per chosen record, one message per fault.

A fault kind names the rows it can be put in without side effects (`eligible`), the columns it
changes, and the (field, code) of the single message the check engine must raise for it. Kinds
are chosen per faulted row uniformly among the kinds eligible for that row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

#: Hidden column holding the chosen fault kind per row (-1 = clean).
FAULT_COLUMN = "_fault"
#: Hidden column holding the 0-based row number within the chunk.
ROW_COLUMN = "_row"


@dataclass(frozen=True)
class RowFault:
    """One kind of fault in a table whose records are rows of that same table."""

    name: str
    code: str
    #: The field the message names: a column name, or an expression when it depends on the row.
    field: str | pl.Expr
    #: Rows the fault can be put in without raising any other message.
    eligible: pl.Expr
    #: Column -> new value; evaluated on the clean row.
    changes: Mapping[str, pl.Expr] = dataclasses.field(default_factory=dict)


def choose_faults(
    rng: np.random.Generator, eligible: npt.NDArray[np.bool_], rate: float
) -> npt.NDArray[np.int64]:
    """Per row the index of its fault kind, or -1; about `rate` of the rows get one."""
    rows, kinds = eligible.shape
    choice = np.full(rows, -1, dtype=np.int64)
    if rate <= 0 or kinds == 0 or rows == 0:
        return choice
    faulted = np.flatnonzero(rng.random(rows) < rate)
    scores = rng.random((faulted.size, kinds))
    scores[~eligible[faulted]] = -1.0
    best = scores.argmax(axis=1)
    usable = scores[np.arange(faulted.size), best] >= 0
    choice[faulted[usable]] = best[usable]
    return choice


def eligibility(frame: pl.DataFrame, faults: Sequence[RowFault]) -> npt.NDArray[np.bool_]:
    if not faults:
        return np.zeros((frame.height, 0), dtype=np.bool_)
    matrix = frame.select(
        [f.eligible.fill_null(False).alias(f"_e{i}") for i, f in enumerate(faults)]
    ).to_numpy()
    return np.asarray(matrix, dtype=np.bool_)


def inject(
    frame: pl.DataFrame,
    faults: Sequence[RowFault],
    choice: npt.NDArray[np.int64],
    *,
    table: str | None,
    record_offset: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Apply the chosen faults; return the changed frame and the expected messages.

    `record_offset` is the number of data rows of the table before this frame, so records are
    numbered across chunks. The expected frame is computed on the clean rows, before any change
    (a field name may depend on a value the fault itself overwrites).
    """
    frame = frame.with_columns(
        pl.Series(ROW_COLUMN, np.arange(frame.height), dtype=pl.Int64),
        pl.Series(FAULT_COLUMN, choice, dtype=pl.Int64),
    )
    kind = pl.col(FAULT_COLUMN)
    faulted = frame.filter(kind >= 0)
    field_expr: pl.Expr = pl.lit(None, dtype=pl.String)
    code_expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for i, fault in enumerate(faults):
        named = pl.lit(fault.field) if isinstance(fault.field, str) else fault.field
        field_expr = pl.when(kind == i).then(named).otherwise(field_expr)
        code_expr = pl.when(kind == i).then(pl.lit(fault.code)).otherwise(code_expr)
    expected = faulted.select(
        pl.lit(table, dtype=pl.String).alias("table"),
        (pl.col(ROW_COLUMN) + record_offset + 1).alias("record"),
        field_expr.cast(pl.String).alias("field"),
        code_expr.alias("code"),
    )

    updates: dict[str, pl.Expr] = {}
    for i, fault in enumerate(faults):
        for column, value in fault.changes.items():
            base = updates.get(column, pl.col(column))
            updates[column] = pl.when(kind == i).then(value).otherwise(base)
    if updates and faulted.height:
        # Compute the changes on the few faulted rows only, then write them back in place.
        changed = faulted.select([expr.alias(column) for column, expr in updates.items()])
        positions = faulted[ROW_COLUMN].to_numpy()
        frame = frame.with_columns(
            [
                frame[column].scatter(positions, changed[column].cast(frame.schema[column]))
                for column in updates
            ]
        )
    return frame.drop(ROW_COLUMN, FAULT_COLUMN), expected
