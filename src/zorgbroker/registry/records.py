"""From the check engine's accepted records to rows in the registry's stored shape (pure)."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.registry.layout import DatasetLayout, Materialised, TableLayout


class RecordsError(ValueError):
    """The accepted records cannot be stored as they are (a Dutch message, no file content)."""


def _materialised(
    m: Materialised, frame: pl.DataFrame, accepted: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    source = accepted.get(m.head)
    if frame.height == 0:
        return frame.with_columns(pl.lit(None).alias(m.column))
    if m.via is None:
        if source is None or source.height != 1:
            raise RecordsError(
                f"De rij van tabel {m.head} is afgewezen; zonder die rij kan de registratie de "
                "records van deze aanlevering niet opslaan. Verbeter de rij en lever opnieuw aan."
            )
        return frame.with_columns(pl.lit(source[m.field][0]).alias(m.column))
    assert m.via_key is not None
    if source is None:
        return frame.with_columns(pl.lit(None).alias(m.column))
    lookup = source.select(pl.col(m.via_key).alias("__key"), pl.col(m.field).alias(m.column))
    lookup = lookup.unique(subset="__key", keep="first")
    return frame.join(lookup, left_on=m.via, right_on="__key", how="left", maintain_order="left")


def stored_rows(table: TableLayout, accepted: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """`__row` plus the layout's columns, in the layout's types."""
    frame = accepted.get(table.table)
    if frame is None:
        return pl.DataFrame(schema={ROW: pl.Int64(), **table.columns})
    for m in table.materialised:
        frame = _materialised(m, frame, accepted)
    return frame.select(
        pl.col(ROW).cast(pl.Int64),
        *[
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
            for name, dtype in table.columns.items()
        ],
    )


def stored_frames(
    layout: DatasetLayout, accepted: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    return {name: stored_rows(table, accepted) for name, table in layout.tables.items()}
