"""The rule language: what it accepts, what it refuses, and that it agrees with python-stdnum."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import ean
from stdnum.nl import bsn as stdnum_bsn

from zorgbroker.intake.checks import rule_language as rl

FIELDS = frozenset({"a", "b", "d", "s", "t", "u"})


def ctx(organisation: str | None = None) -> rl.Context:
    return rl.Context(
        fields=FIELDS,
        today=dt.date(2026, 11, 22),
        organisation=organisation,
        dotted=lambda head, field: "p.x" if (head, field) == ("p", "x") else None,
        exists=lambda table, cond: None,
    )


def evaluate(text: str, frame: pl.DataFrame, organisation: str | None = None) -> list[bool]:
    expr = rl.compile_condition(rl.parse(text), ctx(organisation))
    return frame.select(expr.alias("r"))["r"].to_list()


FRAME = pl.DataFrame(
    {
        "a": [1, 5, None],
        "b": [2, 5, 3],
        "s": ["J", None, "N"],
        "d": [dt.date(2026, 1, 1), dt.date(1999, 1, 1), None],
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a < b", [True, False, False]),  # unknown (null) never fires
        ("a = b", [False, True, False]),
        ("s != 'J'", [False, True, True]),  # an empty value is not 'J'
        ("s = 'J'", [True, False, False]),
        ("s in ('J', 'N')", [True, False, True]),
        ("s not in ('J')", [False, True, True]),
        ("s is empty", [False, True, False]),
        ("a is not empty and b > 2", [False, True, False]),
        ("not (a < b)", [False, True, False]),
        ("a + b > 6 or a * 2 = 2", [True, True, False]),
        ("b / (a - 1) > 1", [False, True, False]),  # division by zero is unknown
        ("d < date('2000-01-01')", [False, True, False]),
        ("d > today()", [False, False, False]),
        ("year(d) = 2026", [True, False, False]),
        ("if(a = 1, b, 0) = 2", [True, False, False]),
        ("-1 < a", [True, True, False]),
    ],
)
def test_semantics(text: str, expected: list[bool]) -> None:
    assert evaluate(text, FRAME) == expected


def test_organisation_unknown_without_uploader() -> None:
    frame = pl.DataFrame({"t": ["01234567", "07654321"]})
    rule = "organisation() is not empty and t != organisation()"
    assert evaluate(rule, frame) == [False, False]
    assert evaluate(rule, frame, organisation="01234567") == [False, True]


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "a.__class__",
        "open('x')",
        "a = ",
        "a ==== b",
        "exec(a)",
        "lambda: 1",
        "a; b",
        "unknown_field = 1",
        "date('not a date') < d",
        "add_months(d, a) < d",
    ],
)
def test_refuses_anything_else(text: str) -> None:
    with pytest.raises(rl.RuleSyntaxError):
        rl.compile_condition(rl.parse(text), ctx())


def test_age_counts_completed_years() -> None:
    frame = pl.DataFrame(
        {
            "d": [dt.date(1950, 11, 22), dt.date(1950, 11, 23), dt.date(2008, 2, 29)],
            "u": [dt.date(2026, 11, 22), dt.date(2026, 11, 22), dt.date(2026, 2, 28)],
        }
    )
    expr = rl.compile_expr(rl.parse("age(d, u)"), ctx())
    assert frame.select(expr.alias("x"))["x"].to_list() == [76, 75, 17]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_elfproef_agrees_with_stdnum(number: str) -> None:
    frame = pl.DataFrame({"t": [number]})
    got = evaluate("elfproef(t)", frame)[0]
    assert got == (stdnum_bsn.is_valid(number) and number != "000000000")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_gs1_check_agrees_with_stdnum(number: str) -> None:
    frame = pl.DataFrame({"t": [number]})
    assert evaluate("gs1_check(t)", frame)[0] == ean.is_valid(number)


@pytest.mark.parametrize(
    ("function", "values"),
    [
        # A wrong-length value beside a right one: the whole column is evaluated at once, so a
        # lookup indexed by the too-large number used to crash the check run.
        ("elfproef", ["111222333", "1234567890", "99999999999", "12345678"]),
        ("gs1_check", ["04006381333931", "123456789012345", "99999999999999999999", "1" * 25]),
    ],
)
def test_wrong_length_values_fail_without_crashing(function: str, values: list[str]) -> None:
    frame = pl.DataFrame({"t": values})
    assert evaluate(f"{function}(t)", frame) == [True, False, False, False]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", max_size=22), min_size=1, max_size=5))
def test_digit_checks_never_crash_on_any_length(values: list[str]) -> None:
    frame = pl.DataFrame({"t": values})
    expected_bsn = [len(v) == 9 and stdnum_bsn.is_valid(v) and v != "0" * 9 for v in values]
    expected_gs1 = [len(v) == 14 and ean.is_valid(v) for v in values]
    assert evaluate("elfproef(t)", frame) == expected_bsn
    assert evaluate("gs1_check(t)", frame) == expected_gs1
