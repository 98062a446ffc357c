"""A report's messages as a data manager works through them: the summary per code, the messages
grouped by code (the first few of each), one code's messages page by page, filtered by class,
code and field, and the record numbers that were rejected. Pure functions over the messages
frame (MESSAGE_SCHEMA), so a page of a 100,000-message report is a few Polars operations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

#: Message classes in the order the report lists them (the contract's order).
CLASS_ORDER = ("BF", "BW", "F", "W", "TF", "TW")
#: Classes whose message rejects its record.
REJECTING = ("F", "TF")
#: Messages shown per code before "toon alle".
PER_GROUP = 10
#: Messages per page once one code is chosen.
PER_PAGE = 100


@dataclass(frozen=True)
class MessageFilter:
    klass: str = ""
    code: str = ""
    field: str = ""

    @property
    def active(self) -> bool:
        return bool(self.klass or self.code or self.field)


@dataclass(frozen=True)
class CodeSummary:
    code: str
    klass: str
    count: int
    explanation: str


@dataclass(frozen=True)
class Group:
    code: str
    klass: str
    explanation: str
    total: int
    messages: list[dict[str, Any]]


@dataclass(frozen=True)
class Page:
    messages: list[dict[str, Any]]
    total: int
    number: int
    pages: int


def _class_rank(code: str) -> int:
    klass = code.split("-", 1)[0]
    return CLASS_ORDER.index(klass) if klass in CLASS_ORDER else len(CLASS_ORDER)


def _sorted_codes(codes: list[str]) -> list[str]:
    return sorted(codes, key=lambda code: (_class_rank(code), code))


def summary(frame: pl.DataFrame, texts: dict[str, str]) -> list[CodeSummary]:
    """One row per code that occurs, ordered by class, then code."""
    counts = frame.group_by("code").agg(pl.len().alias("n"), pl.first("class"))
    found = {row["code"]: row for row in counts.iter_rows(named=True)}
    return [
        CodeSummary(code, found[code]["class"], found[code]["n"], texts.get(code, ""))
        for code in _sorted_codes(list(found))
    ]


def fields_of(frame: pl.DataFrame) -> list[str]:
    return sorted(frame["field"].drop_nulls().unique().to_list())


def filtered(frame: pl.DataFrame, chosen: MessageFilter) -> pl.DataFrame:
    conditions = []
    if chosen.klass:
        conditions.append(pl.col("class") == chosen.klass)
    if chosen.code:
        conditions.append(pl.col("code") == chosen.code)
    if chosen.field:
        conditions.append(pl.col("field") == chosen.field)
    return frame.filter(*conditions) if conditions else frame


def groups(
    frame: pl.DataFrame, chosen: MessageFilter, texts: dict[str, str], per_group: int = PER_GROUP
) -> list[Group]:
    """The filtered messages per code, the first `per_group` of each in report order."""
    selected = filtered(frame, chosen)
    totals = dict(selected.group_by("code").len().iter_rows())
    heads = selected.group_by("code", maintain_order=True).head(per_group)
    by_code: dict[str, list[dict[str, Any]]] = {}
    for row in heads.iter_rows(named=True):
        by_code.setdefault(row["code"], []).append(row)
    return [
        Group(
            code,
            by_code[code][0]["class"],
            texts.get(code, ""),
            int(totals[code]),
            by_code[code],
        )
        for code in _sorted_codes(list(by_code))
    ]


def page(frame: pl.DataFrame, chosen: MessageFilter, number: int, per_page: int = PER_PAGE) -> Page:
    """Page `number` (from 1; clamped) of the filtered messages in report order."""
    selected = filtered(frame, chosen)
    total = selected.height
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    rows = selected.slice((number - 1) * per_page, per_page).to_dicts()
    return Page(rows, total, number, pages)


def rejected_records(frame: pl.DataFrame) -> pl.DataFrame:
    """The records a rejecting message points at (table, record number), each once, in order:
    what a data manager looks up in their own system."""
    return (
        frame.filter(pl.col("class").is_in(REJECTING) & pl.col("record").is_not_null())
        .select(pl.col("table").alias("tabel"), pl.col("record").alias("record"))
        .unique()
        .sort("tabel", "record")
    )
