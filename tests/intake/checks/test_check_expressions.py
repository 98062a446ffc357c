"""The vectorised checks agree with plain Python references, in both Polars engines.

The expressions lean on exactly what Polars' integer cast accepts and on lookup tables, so they
are compared with obvious per-value implementations on random and malformed input.
"""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import ean
from stdnum.nl import bsn as stdnum_bsn

from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.spec.model import FieldSpec

#: Text that comes close to the shapes the checks look for: digits of several scripts, signs,
#: white space and separators.
NEAR_DIGITS = "0123456789+- .\n١٢３x"


def texts(size: int) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.text(alphabet="0123456789", min_size=size, max_size=size),
        st.text(alphabet=NEAR_DIGITS, max_size=size + 2),
        st.text(max_size=size + 2),
    )


def evaluate(values: list[object], dtype: pl.DataType, expr: pl.Expr) -> list[object]:
    """The expression over a column `t` of `values`, the same in memory and streaming."""
    frame = pl.DataFrame({"t": values}, schema={"t": dtype})
    eager = frame.select(expr.alias("r"))["r"].to_list()
    streamed = frame.lazy().select(expr.alias("r")).collect(engine="streaming")["r"].to_list()
    assert eager == streamed
    return eager


def eleven_test(value: str) -> bool:
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = sum(int(d) * w for d, w in zip(value, weights, strict=True))
    return total % 11 == 0 and value != "000000000"


@settings(max_examples=200, deadline=None)
@given(st.lists(texts(9), max_size=40))
def test_elfproef_is_the_eleven_test_on_nine_ascii_digits(values: list[str | None]) -> None:
    got = evaluate(values, pl.String(), rl._elfproef(pl.col("t")))
    for value, ok in zip(values, got, strict=True):
        if value is None:
            assert ok is None
        elif re.fullmatch(r"[0-9]{9}", value):
            assert ok == eleven_test(value) == (stdnum_bsn.is_valid(value) and value != "0" * 9)
        else:
            assert ok is False, value


@settings(max_examples=200, deadline=None)
@given(st.lists(texts(14), max_size=40))
def test_gs1_check_on_fourteen_ascii_digits(values: list[str | None]) -> None:
    got = evaluate(values, pl.String(), rl._gs1_check(pl.col("t")))
    for value, ok in zip(values, got, strict=True):
        if value is None:
            assert ok is None
        elif re.fullmatch(r"[0-9]{14}", value):
            assert ok == ean.is_valid(value), value
        else:
            assert ok is False, value


def test_digit_checks_refuse_what_is_not_ascii_digits() -> None:
    # Valid numbers, then lookalikes: a sign, other scripts' digits, white space, too long.
    bsns = ["111222333", "+11222333", "١١١٢٢٢٣٣٣", "１１１", "11122233 ", "-11222333", "0111222333"]
    assert evaluate(bsns, pl.String(), rl._elfproef(pl.col("t"))) == [True] + [False] * 6
    gtins = ["00614141999996", "+0614141999996", "0061414199999٦", "0614141999996 ", "000000000000"]
    assert evaluate(gtins, pl.String(), rl._gs1_check(pl.col("t"))) == [True] + [False] * 4


def completed_years(birth: dt.date, at: dt.date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


LEAP_DAYS = st.sampled_from([1904, 1996, 2000, 2024, 2400]).map(lambda y: dt.date(y, 2, 29))
DATES = st.one_of(st.dates(), st.dates(dt.date(1890, 1, 1), dt.date(2100, 12, 31)), LEAP_DAYS)
DATE_PAIRS = st.lists(st.tuples(DATES | st.none(), DATES | st.none()), max_size=40)


@settings(max_examples=200, deadline=None)
@given(DATE_PAIRS)
def test_age_counts_completed_years(pairs: list[tuple[dt.date | None, dt.date | None]]) -> None:
    frame = pl.DataFrame(
        {"b": [b for b, _ in pairs], "a": [a for _, a in pairs]},
        schema={"b": pl.Date(), "a": pl.Date()},
    )
    expr = rl._age(pl.col("b"), pl.col("a")).alias("r")
    got = frame.select(expr)["r"]
    assert got.dtype == pl.Int32
    assert frame.lazy().select(expr).collect(engine="streaming")["r"].equals(got)
    for (birth, at), age in zip(pairs, got.to_list(), strict=True):
        expected = None if birth is None or at is None else completed_years(birth, at)
        assert age == expected, (birth, at)


CONTEXT = rl.Context(
    fields=frozenset({"a", "b"}),
    today=dt.date(2026, 11, 22),
    organisation=None,
    dotted=lambda head, field: None,
    exists=lambda table, condition: None,
)


@settings(max_examples=200, deadline=None)
@given(DATE_PAIRS)
def test_calendar_functions(pairs: list[tuple[dt.date | None, dt.date | None]]) -> None:
    frame = pl.DataFrame(
        {"a": [a for a, _ in pairs], "b": [b for _, b in pairs]},
        schema={"a": pl.Date(), "b": pl.Date()},
    )
    functions = ["year(a)", "month(a)", "quarter(a)", "days_between(a, b)"]
    exprs = [rl.compile_expr(rl.parse(f), CONTEXT).alias(f) for f in functions]
    got = frame.select(exprs)
    assert got.dtypes == [pl.Int32, pl.Int8, pl.Int8, pl.Int64]
    assert frame.lazy().select(exprs).collect(engine="streaming").equals(got)
    for (a, b), row in zip(pairs, got.iter_rows(), strict=True):
        year = month = quarter = days = None
        if a is not None:
            year, month, quarter = a.year, a.month, (a.month + 2) // 3
            days = None if b is None else (b - a).days
        assert row == (year, month, quarter, days), (a, b)


def test_age_on_29_february() -> None:
    births = [dt.date(2000, 2, 29)] * 3
    ats = [dt.date(2001, 2, 28), dt.date(2001, 3, 1), dt.date(2004, 2, 29)]
    frame = pl.DataFrame({"b": births, "a": ats})
    assert frame.select(rl._age(pl.col("b"), pl.col("a")))["a"].to_list() == [0, 1, 4]


INTEGER_TEXT = st.one_of(
    st.integers(-(10**19), 10**19).map(str),
    st.integers(0, 10**18).map(lambda n: "+" + str(n).zfill(18)),
    st.text(alphabet=NEAR_DIGITS, max_size=21),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(INTEGER_TEXT | st.none(), max_size=40))
def test_integer_field_takes_an_optional_sign_and_up_to_18_digits(
    values: list[str | None],
) -> None:
    field = FieldSpec(name="n", type="integer")
    expr = p.typed_expr(field, p.ISO)
    frame = pl.DataFrame({p.text_col("n"): values}, schema={p.text_col("n"): pl.String()})
    got = frame.select(expr)["n"].to_list()
    assert frame.lazy().select(expr).collect(engine="streaming")["n"].to_list() == got
    for value, number in zip(values, got, strict=True):
        ok = value is not None and re.fullmatch(r"[+-]?[0-9]{1,18}", value)
        assert number == (int(value) if ok and value is not None else None), value


DATE_TEXT = st.one_of(
    st.dates().map(str),
    st.dates().map(lambda d: d.strftime("%d-%m-%Y")),
    st.from_regex(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}", fullmatch=True),
    st.text(alphabet="0123456789-+ ", max_size=12),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(DATE_TEXT, max_size=40), st.sampled_from([p.ISO, p.DMY]))
def test_date_parse_without_cache_is_the_same_parse(values: list[str], fmt: str) -> None:
    field = FieldSpec(name="d", type="date")
    frame = pl.DataFrame({p.text_col("d"): values}, schema={p.text_col("d"): pl.String()})
    cached = frame.select(pl.col(p.text_col("d")).str.to_date(fmt, strict=False))
    assert frame.select(p.typed_expr(field, fmt)).to_series().equals(cached.to_series())


def test_impossible_date_is_empty() -> None:
    field = FieldSpec(name="d", type="date")
    frame = pl.DataFrame({p.text_col("d"): ["2026-02-30", "2024-02-29", "2023-02-29"]})
    got = frame.select(p.typed_expr(field, p.ISO))["d"].to_list()
    assert got == [None, dt.date(2024, 2, 29), None]


PATTERNS = [
    r"^\d{8}$",
    r"^\d{9}$",
    r"^[0-9]{4}$",
    r"^\d{2,5}$",
    r"^\d{19}$",
    r"^(\d{8}|1111)$",
    r"^[A-Za-z0-9]{4,30}$",
    r"^[\d-]+$",
    r"^[^\d]+$",
    r"^\D*$",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PATTERNS), st.lists(texts(9) | texts(19), max_size=40))
def test_pattern_means_ascii_digits(pattern: str, values: list[str | None]) -> None:
    got = evaluate(values, pl.String(), p._matches(pl.col("t"), pattern))
    for value, ok in zip(values, got, strict=True):
        # An empty value never reaches a pattern check.
        if value is not None:
            assert ok == (re.fullmatch(pattern, value, flags=re.ASCII) is not None), value


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(alphabet="ABC-1", min_size=1, max_size=3), max_size=12, unique=True),
    st.lists(st.text(alphabet="ABC-1", max_size=3) | st.none(), max_size=40),
)
def test_code_list_membership(codes: list[str], values: list[str | None]) -> None:
    got = evaluate(values, pl.String(), p._is_code(pl.col("t"), codes))
    for value, found in zip(values, got, strict=True):
        if value is not None:
            assert found == (value in codes), value
