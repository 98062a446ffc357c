"""replaces_upload: records of a group (a practice's year) that replace a held, different
group."""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.registry.comparisons.base import (
    WRITE,
    Comparison,
    ComparisonKind,
    Index,
    Scope,
    Wanted,
    messages,
)


class ReplacesUpload(ComparisonKind):
    name = "replaces_upload"
    required: ClassVar[tuple[str, ...]] = ("scope",)
    column_params: ClassVar[frozenset[str]] = frozenset({"scope"})

    def indexes(self, c: Comparison) -> list[Index]:
        return [Index(tuple(c.texts("scope")))]

    def lookups(self, c: Comparison, upload: pl.DataFrame) -> list[Wanted]:
        scope = tuple(c.texts("scope"))
        return [Wanted(scope, upload.select(scope))]

    def check(self, c: Comparison, scope: Scope) -> pl.DataFrame:
        group = c.texts("scope")
        held_groups = scope.held_rows(tuple(group)).select(group).unique()
        changed = scope.classified.filter(pl.col(WRITE)).select(group).unique()
        replaced = held_groups.join(changed, on=group, how="semi", nulls_equal=True)
        flagged = scope.classified.join(replaced, on=group, how="semi", nulls_equal=True)
        return messages(flagged.sort(ROW), c.code, c.field, None, scope.table_key)
