"""Structure checks: does a table's header name the specification's columns (and no forbidden
ones)? And the file's columns under the specification's names."""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.spec.model import TableSpec


def match_header(header: list[str], table: TableSpec) -> dict[str, str]:
    """Map file column names onto specification names, ignoring case."""
    known = {f.name.lower(): f.name for f in table.fields}
    return {col: known[col.strip().lower()] for col in header if col.strip().lower() in known}


def structure_messages(
    header: list[str], table: TableSpec, messages: Messages, table_key: str | None
) -> bool:
    """Header checks; returns True when the table can be read on."""
    ok = True
    forbidden = [
        col
        for col in header
        if any(re.fullmatch(rx, col.strip(), flags=re.IGNORECASE) for rx in table.forbidden_columns)
    ]
    if forbidden and table.forbidden_code:
        for col in forbidden:
            messages.file(table.forbidden_code, table=table_key, value=col[:100])
        ok = False
    mapping = match_header(header, table)
    known = set(mapping.values())
    needed = [f.name for f in table.fields if f.needs_column]
    missing = [n for n in needed if n not in known]
    if missing:
        if len(known) < max(1, len(needed) // 2):
            messages.file("BF-004", table=table_key)
        else:
            for name in missing:
                messages.file("BF-003", table=table_key, field=name)
        ok = False
    extra = [col for col in header if col not in mapping and col not in forbidden]
    if extra:
        messages.file("BW-001", table=table_key, value=", ".join(c[:60] for c in extra)[:300])
    return ok


def renamed(batch: pl.DataFrame, table: TableSpec, keep: Sequence[str] = ()) -> pl.DataFrame:
    """The file's columns under the specification's names, and the `keep` columns as they are
    (what a stage-1 table carries besides its fields); other columns are left out."""
    mapping = match_header(batch.columns, table)
    kept = [pl.col(col) for col in keep if col in batch.columns]
    return batch.select([*(pl.col(col).alias(name) for col, name in mapping.items()), *kept])
