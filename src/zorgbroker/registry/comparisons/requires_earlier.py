"""requires_earlier: a record of the `when` kind needs an `earlier` record of the same person,
held or in this upload, dated on or before it (a replacement needs a first implant)."""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.registry.comparisons.base import (
    Comparison,
    ComparisonKind,
    Index,
    Scope,
    Wanted,
    as_text,
    differs,
    messages,
    unique,
)


class RequiresEarlier(ComparisonKind):
    name = "requires_earlier"
    required: ClassVar[tuple[str, ...]] = ("subject", "date", "when", "earlier")
    column_params: ClassVar[frozenset[str]] = frozenset({"subject", "date"})

    def indexes(self, c: Comparison) -> list[Index]:
        # The person's records are looked up by subject alone; the (subject, date) index
        # serves that as its leading column.
        return [Index((c.text("subject"), c.text("date")))]

    def lookups(self, c: Comparison, upload: pl.DataFrame) -> list[Wanted]:
        subject = c.text("subject")
        return [Wanted((subject,), upload.select(subject))]

    def check(self, c: Comparison, scope: Scope) -> pl.DataFrame:
        subject, date = c.text("subject"), c.text("date")
        table = scope.table
        identity = list(table.identity)
        cols = unique([subject, date, *identity])
        when, earlier = scope.conditions(c.text("when")), scope.conditions(c.text("earlier"))
        asking = scope.candidates.filter(when)
        pool = pl.concat(
            [
                scope.held_rows((subject,)).filter(earlier).select(cols),
                scope.accepted.filter(earlier).select(cols),
            ]
        )
        pool = pool.select([pl.col(x).alias(f"{x}__e") for x in cols])
        pairs = asking.select(ROW, *cols).join(
            pool, left_on=subject, right_on=f"{subject}__e", how="inner", coalesce=False
        )
        satisfied = (
            pairs.filter((pl.col(f"{date}__e") <= pl.col(date)) & differs(identity, "__e"))
            .select(ROW)
            .unique()
        )
        flagged = asking.join(satisfied, on=ROW, how="anti").sort(ROW)
        field_name = c.field or date
        value = as_text(pl.col(field_name), table.columns[field_name])
        return messages(flagged, c.code, field_name, value, scope.table_key)
