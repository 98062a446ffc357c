"""same_subject_same_date_other_content: the person already has a held record on the same date
with another identity (the same procedure sent twice under different numbers?)."""

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


class SameSubjectSameDate(ComparisonKind):
    name = "same_subject_same_date_other_content"
    required: ClassVar[tuple[str, ...]] = ("subject", "date")
    column_params: ClassVar[frozenset[str]] = frozenset({"subject", "date"})

    def _pair(self, c: Comparison) -> tuple[str, str]:
        return c.text("subject"), c.text("date")

    def indexes(self, c: Comparison) -> list[Index]:
        return [Index(self._pair(c))]

    def lookups(self, c: Comparison, upload: pl.DataFrame) -> list[Wanted]:
        pair = self._pair(c)
        return [Wanted(pair, upload.select(pair))]

    def check(self, c: Comparison, scope: Scope) -> pl.DataFrame:
        subject, date = self._pair(c)
        table, candidates = scope.table, scope.candidates
        identity = list(table.identity)
        other = scope.held_rows((subject, date)).select(
            pl.col(subject).alias("__k_subject"),
            pl.col(date).alias("__k_date"),
            *[pl.col(x).alias(f"{x}__h") for x in identity],
        )
        joined = candidates.select(ROW, *unique([subject, date, *identity])).join(
            other, left_on=[subject, date], right_on=["__k_subject", "__k_date"], how="inner"
        )
        hits = joined.filter(differs(identity, "__h")).select(ROW).unique()
        flagged = candidates.join(hits, on=ROW, how="semi").sort(ROW)
        field_name = c.field or date
        value = as_text(pl.col(field_name), table.columns[field_name])
        return messages(flagged, c.code, field_name, value, scope.table_key)
