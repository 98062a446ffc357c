"""identity_with_other_subject: a resent record whose held version belongs to another person."""

from __future__ import annotations

from typing import ClassVar

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.registry.comparisons.base import (
    STATUS,
    UNCHANGED,
    Comparison,
    ComparisonKind,
    Scope,
    as_text,
    messages,
)


class IdentityWithOtherSubject(ComparisonKind):
    """Needs no lookup of its own: the held versions of the upload's identities are fetched for
    every upload."""

    name = "identity_with_other_subject"
    required: ClassVar[tuple[str, ...]] = ("subject",)
    column_params: ClassVar[frozenset[str]] = frozenset({"subject"})

    def check(self, c: Comparison, scope: Scope) -> pl.DataFrame:
        subject = c.text("subject")
        table = scope.table
        identity = list(table.identity)
        rows = scope.held.identity.get(table.table, pl.DataFrame(schema=table.schema))
        previous = rows.select(*identity, pl.col(subject).alias("__subject_h"))
        joined = scope.classified.filter(pl.col(STATUS) != UNCHANGED).join(
            previous, on=identity, how="inner", nulls_equal=True
        )
        flagged = joined.filter(pl.col(subject).ne_missing(pl.col("__subject_h")))
        flagged = flagged.unique(subset=ROW).sort(ROW)
        value = as_text(pl.col(c.field), table.columns[c.field]) if c.field else None
        return messages(flagged, c.code, c.field, value, scope.table_key)
