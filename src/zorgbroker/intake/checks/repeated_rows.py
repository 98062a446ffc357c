"""Repeated rows (BW-003): a hash per row, and a count of the rows that have a twin."""

from __future__ import annotations

import functools
import operator

import polars as pl

from zorgbroker.intake.checks.messages import Messages


def row_hash(cells: list[pl.Expr]) -> pl.Expr:
    """One hash of a row's cells: the cells' hashes, each seeded by its position, combined
    (several times cheaper than hashing a struct of them)."""
    hashes = [cell.hash(seed=k) for k, cell in enumerate(cells)]
    return functools.reduce(operator.xor, hashes)


def row_hashes(raw: pl.DataFrame) -> pl.Series:
    return raw.select(row_hash([pl.col(col) for col in raw.columns])).to_series()


def report_repeated_rows(hashes: list[pl.Series], messages: Messages, table: str | None) -> None:
    if not hashes:
        return
    # Rows whose hash equals a neighbour's once sorted: is_duplicated(), at half the cost.
    ordered = pl.concat(hashes).sort()
    same = ordered == ordered.shift(1)
    repeated = int((same | same.shift(-1)).fill_null(False).sum())
    if repeated:
        messages.file("BW-003", table=table, value=f"{repeated} rijen")
