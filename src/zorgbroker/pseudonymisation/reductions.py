"""Reductions applied at the source, before anything leaves it: pure Polars expressions.

A birth date becomes a birth year (after the age at the event has been computed from the full
date), a postcode its four digits, and names are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import polars as pl

#: What a dataset specification says about an identifying field.
Identifying = Literal["pseudonymise", "year", "postcode4", "drop"]


def parse_date(values: pl.Expr) -> pl.Expr:
    """A text date as the datasets allow it (YYYY-MM-DD or DD-MM-YYYY) to a Date; else null."""
    text = values.str.strip_chars()
    return pl.coalesce(
        text.str.to_date("%Y-%m-%d", strict=False),
        text.str.to_date("%d-%m-%Y", strict=False),
    )


def age_at(birth: pl.Expr, event: pl.Expr) -> pl.Expr:
    """Whole years between two dates, counting a birthday on the event's day as reached."""
    before_birthday = (event.dt.month() < birth.dt.month()) | (
        (event.dt.month() == birth.dt.month()) & (event.dt.day() < birth.dt.day())
    )
    return (event.dt.year() - birth.dt.year() - before_birthday.cast(pl.Int32)).cast(pl.Int32)


def birth_year(birth: pl.Expr) -> pl.Expr:
    return birth.dt.year().cast(pl.Int32)


def postcode4(values: pl.Expr) -> pl.Expr:
    """The four digits of a Dutch postcode ("1234 AB", "1234ab", "1234"); null otherwise."""
    compact = values.str.replace_all(r"\s", "").str.to_uppercase()
    return compact.str.extract(r"^([1-9][0-9]{3})(?:[A-Z]{2})?$", 1)


def reduce_identifying(
    frame: pl.DataFrame,
    kinds: Mapping[str, Identifying | None],
    *,
    age_at_event: Mapping[str, tuple[str, str]] | None = None,
) -> pl.DataFrame:
    """Apply the "year", "postcode4" and "drop" reductions to a frame of text columns.

    `age_at_event` maps a birth-date field to (event-date field, name of the new age column); the
    age is computed from the full dates before the birth date is cut to its year. Fields marked
    "pseudonymise" are left for the pseudonymiser. Output columns stay text.
    """
    ages = []
    for field, (event, column) in (age_at_event or {}).items():
        if field in frame.columns and event in frame.columns:
            age = age_at(parse_date(pl.col(field)), parse_date(pl.col(event)))
            ages.append(age.cast(pl.String).alias(column))
    reduced = []
    dropped = []
    for field, kind in kinds.items():
        if field not in frame.columns:
            continue
        if kind == "year":
            reduced.append(birth_year(parse_date(pl.col(field))).cast(pl.String).alias(field))
        elif kind == "postcode4":
            reduced.append(postcode4(pl.col(field)).alias(field))
        elif kind == "drop":
            dropped.append(field)
    return frame.with_columns(*ages).with_columns(*reduced).drop(dropped)
