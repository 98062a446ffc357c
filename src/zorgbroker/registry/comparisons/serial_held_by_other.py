"""serial_held_by_other: a serial number named by a new record is still registered to another
person (an implanted device that was never explanted)."""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.registry.columns import ID
from zorgbroker.registry.comparisons.base import (
    Comparison,
    ComparisonKind,
    Scope,
    Wanted,
    messages,
)

#: Orders an upload's records by date, then row (rows never reach this many).
_ROWS_PER_DAY = 1 << 32


def current_holders(events: pl.DataFrame, keep: list[str] | None = None) -> pl.DataFrame:
    """Per serial (`__serial`), the person (`__holder`) whose record naming it is the latest
    (`__date`, then `__order`), unless that record ends the registration (`__ending`)."""
    keep = keep or []
    latest = (
        events.sort("__date", "__order", nulls_last=False)
        .group_by("__serial")
        .agg(pl.col("__subject", "__ending", "__date", *keep).last())
    )
    return latest.filter(~pl.col("__ending")).select(
        "__serial", pl.col("__subject").alias("__holder"), "__date", *keep
    )


def serial_values(frame: pl.DataFrame, serials: list[str]) -> pl.DataFrame:
    """The distinct serials named in any of the columns (`__serial`)."""
    parts = [
        frame.select(pl.col(s).alias("__serial")).drop_nulls()
        for s in serials
        if s in frame.columns
    ]
    return pl.concat(parts).unique() if parts else pl.DataFrame(schema={"__serial": pl.String})


class SerialHeldByOther(ComparisonKind):
    """The current holder of a serial is the person of the latest held record naming it (by date,
    then by storage order), unless that record ends the registration (an explant). An ending
    record for the current holder in this same upload frees the serial for the upload's other
    records, so an explant and a re-implant can arrive together.

    The upload's own records count too: where an earlier record of the upload (by date, then by
    row) names the serial, its person holds it from then on, unless that record ends the
    registration. So one file cannot give one device to two people.
    """

    name = "serial_held_by_other"
    required: ClassVar[tuple[str, ...]] = ("serials", "subject", "date", "ends_registration")
    can_reject = True
    column_params: ClassVar[frozenset[str]] = frozenset(
        {"serials", "subject", "date", "model", "centre"}
    )

    def serial_columns(self, c: Comparison) -> tuple[str, ...]:
        return tuple(c.texts("serials"))

    # No index: serials are indexed in the table's serial table. Nor one for `model`: only a
    # recall asks by device model, rarely, and a scan answers it; every import would pay for
    # the index.

    def lookups(self, c: Comparison, upload: pl.DataFrame) -> list[Wanted]:
        serials = c.texts("serials")
        values = serial_values(upload, serials).select("__serial")
        return [Wanted((s,), values.rename({"__serial": s}), distinct=True) for s in serials]

    def check(self, c: Comparison, scope: Scope) -> pl.DataFrame:
        serials, subject, date = c.texts("serials"), c.text("subject"), c.text("date")
        ending = scope.conditions(c.text("ends_registration"))
        accepted, candidates = scope.accepted, scope.candidates
        events = []
        for s in serials:
            events.append(
                scope.held_rows((s,))
                .select(
                    pl.col(s).alias("__serial"),
                    pl.col(subject).alias("__subject"),
                    pl.col(date).alias("__date"),
                    pl.col(ID).alias("__order"),
                    ending.alias("__ending"),
                )
                .drop_nulls("__serial")
            )
        current = current_holders(pl.concat(events)).select("__serial", "__holder")
        freed = (
            pl.concat(
                [
                    accepted.filter(ending).select(
                        pl.col(s).alias("__serial"), pl.col(subject).alias("__by")
                    )
                    for s in serials
                ]
            )
            .drop_nulls("__serial")
            .join(current, on="__serial")
            .filter(pl.col("__by") == pl.col("__holder"))
            .select("__serial")
            .unique()
        )
        # Time order within the upload: date, then row.
        moment = pl.col(date).cast(pl.Int64) * _ROWS_PER_DAY + pl.col(ROW)
        earlier = (
            pl.concat(
                [
                    accepted.select(
                        pl.col(s).alias("__serial"),
                        pl.col(subject).alias("__earlier_subject"),
                        ending.alias("__earlier_ending"),
                        moment.alias("__moment"),
                    )
                    for s in serials
                ]
            )
            .drop_nulls(["__serial", "__moment"])
            # Only a serial the upload names more than once can be taken by an earlier record.
            .filter(pl.col("__serial").is_duplicated())
            .sort("__moment")
        )
        shared = pl.col("__serial").is_in(earlier["__serial"].unique().implode())
        found = []
        for s in serials:
            rows = candidates.select(
                ROW,
                pl.col(s).alias("__serial"),
                pl.col(subject).alias("__subject"),
                ending.alias("__self_ending"),
                (moment - 1).alias("__moment"),  # strictly before the record itself
            ).drop_nulls("__serial")
            taken = (
                rows.filter(shared)
                .sort("__moment")
                .join_asof(
                    earlier,
                    on="__moment",
                    by="__serial",
                    strategy="backward",
                    check_sortedness=False,
                )
            )
            rows = (
                pl.concat([rows.filter(~shared), taken], how="diagonal_relaxed")
                .join(current, on="__serial", how="left")
                .join(freed.with_columns(pl.lit(True).alias("__freed")), on="__serial", how="left")
            )
            held_by_other = (pl.col("__holder") != pl.col("__subject")) & (
                pl.col("__self_ending") | pl.col("__freed").is_null()
            )
            taken_earlier = ~pl.col("__earlier_ending") & (
                pl.col("__earlier_subject") != pl.col("__subject")
            )
            conflict = (
                pl.when(pl.col("__earlier_subject").is_not_null())
                .then(taken_earlier)
                .otherwise(held_by_other)
                .fill_null(False)
            )
            flagged = rows.filter(conflict).sort(ROW)
            found.append(messages(flagged, c.code, s, pl.col("__serial"), scope.table_key))
        return pl.concat(found)
