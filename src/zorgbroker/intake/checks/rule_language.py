"""The rule language: small, safe expressions over a record, compiled to Polars expressions.

Nothing in a specification is ever evaluated as Python. An expression is parsed by a fixed grammar
into a tree of the node types below, and the compiler maps each node onto a Polars expression, so a
rule runs vectorised over a whole batch of records.

Null semantics (documented for specification authors in docs/dataset-specification.md):
- `=`, `!=`, `in` and `not in` treat an empty value as a value of its own: `x != 'J'` holds when x
  is empty, `x = 'J'` does not.
- ordering comparisons and arithmetic with an empty value are unknown, and a rule whose condition is
  unknown does not fire: `ontslag_datum < opname_datum` says nothing when either date is empty.
"""

from __future__ import annotations

import datetime as dt
from calendar import isleap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

import polars as pl
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr ("or" and_expr)+         -> or_
        | and_expr
?and_expr: not_expr ("and" not_expr)+       -> and_
         | not_expr
?not_expr: "not" not_expr                    -> not_
         | comparison
?comparison: sum COMP_OP sum                 -> compare
           | sum "in" "(" items ")"          -> in_
           | sum "not" "in" "(" items ")"    -> not_in
           | sum "is" "empty"                -> is_empty
           | sum "is" "not" "empty"          -> is_not_empty
           | sum
items: sum ("," sum)*
?sum: product
    | sum ADD_OP product                     -> arith
?product: unary
        | product MUL_OP unary               -> arith
?unary: "-" unary                            -> neg
      | atom
?atom: NUMBER                                -> number
     | STRING                                -> string
     | NAME "(" [or_expr ("," or_expr)*] ")" -> call
     | NAME "." NAME                         -> dotted
     | NAME                                  -> name
     | "(" or_expr ")"
COMP_OP: "<=" | ">=" | "!=" | "=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
NAME: /[a-z_][a-z0-9_]*/
STRING: /'[^']*'/
NUMBER: /\d+(\.\d+)?/
%import common.WS
%ignore WS
"""


class RuleSyntaxError(ValueError):
    """A rule expression that does not parse or uses an unknown name or function."""


# --- the syntax tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    pass


@dataclass(frozen=True)
class Literal(Node):
    value: int | float | str


@dataclass(frozen=True)
class FieldRef(Node):
    name: str


@dataclass(frozen=True)
class Dotted(Node):
    """`fk_field.other_field` (follow a reference) or `table.field` (a one-row table)."""

    head: str
    field: str


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    value: Node
    items: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True)
class IsEmpty(Node):
    value: Node
    negated: bool


@dataclass(frozen=True)
class Arith(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic(Node):
    op: str  # "and" | "or" | "not"
    args: tuple[Node, ...]


@v_args(inline=True)
class _ToTree(Transformer[Token, Node]):
    def number(self, tok: Token) -> Literal:
        text = str(tok)
        return Literal(float(text) if "." in text else int(text))

    def string(self, tok: Token) -> Literal:
        return Literal(str(tok)[1:-1])

    def name(self, tok: Token) -> FieldRef:
        return FieldRef(str(tok))

    def dotted(self, head: Token, field: Token) -> Dotted:
        return Dotted(str(head), str(field))

    def call(self, fn: Token, *args: Node | None) -> Call:
        return Call(str(fn), tuple(a for a in args if a is not None))

    def compare(self, left: Node, op: Token, right: Node) -> Compare:
        return Compare(str(op), left, right)

    def items(self, *items: Node) -> tuple[Node, ...]:
        return items

    def in_(self, value: Node, items: tuple[Node, ...]) -> In:
        return In(value, items, negated=False)

    def not_in(self, value: Node, items: tuple[Node, ...]) -> In:
        return In(value, items, negated=True)

    def is_empty(self, value: Node) -> IsEmpty:
        return IsEmpty(value, negated=False)

    def is_not_empty(self, value: Node) -> IsEmpty:
        return IsEmpty(value, negated=True)

    def arith(self, left: Node, op: Token, right: Node) -> Arith:
        return Arith(str(op), left, right)

    def neg(self, value: Node) -> Arith:
        return Arith("-", Literal(0), value)

    def or_(self, *args: Node) -> Logic:
        return Logic("or", args)

    def and_(self, *args: Node) -> Logic:
        return Logic("and", args)

    def not_(self, arg: Node) -> Logic:
        return Logic("not", (arg,))


#: How the grammar is built; the tables made ahead (parser_tables.py) are keyed by these too.
PARSER_OPTIONS: dict[str, Any] = {"parser": "lalr", "maybe_placeholders": True}


def build_parser() -> Lark:
    return Lark(GRAMMAR, **PARSER_OPTIONS)


@cache
def _parser() -> Lark:
    # Building the parser would cost each run more than reading the rest of a specification.
    from zorgbroker.intake.checks.parser_tables import load_tables

    stored = load_tables()
    return stored if stored is not None else build_parser()


_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "empty"})


def parse(text: str) -> Node:
    try:
        tree = _parser().parse(text)
    except LarkError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuleSyntaxError(f"cannot parse rule {text!r}: {first_line}") from None
    node = _ToTree().transform(tree)
    assert isinstance(node, Node)
    return node


def walk(node: Node) -> Iterable[Node]:
    yield node
    for child in _children(node):
        yield from walk(child)


def field_names(node: Node) -> set[str]:
    """The current table's field names an expression reads.

    The arguments of exists() name another table and its fields, so they are not counted.
    """
    match node:
        case FieldRef(name=name):
            return {name}
        case Call(function="exists"):
            return set()
    names: set[str] = set()
    for child in _children(node):
        names |= field_names(child)
    return names


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case Call(args=args) | Logic(args=args):
            return args
        case Compare(left=left, right=right) | Arith(left=left, right=right):
            return (left, right)
        case In(value=value, items=items):
            return (value, *items)
        case IsEmpty(value=value):
            return (value,)
    return ()


# --- compilation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What an expression may refer to besides the current table's fields."""

    fields: frozenset[str]
    today: dt.date
    organisation: str | None
    #: Column name of a dotted reference, by (head, field), or None when the specification declares
    #: no such reference; the engine materialises these columns.
    dotted: Callable[[str, str], str | None]
    #: Column name of an `exists(table, condition)` flag, or None when unknown.
    exists: Callable[[str, Node], str | None]


def _weighted_digit_sums(weights: tuple[int, ...], modulus: int) -> pl.Series:
    """For every number v below 10**len(weights): sum(w_i * digit_i(v)) % modulus, where digit_0
    is the least significant digit.

    A check over a long number then costs one lookup per chunk of digits instead of a division,
    a remainder and a multiplication per digit.
    """
    number = pl.int_range(0, 10 ** len(weights), dtype=pl.Int32)
    total = pl.lit(0, dtype=pl.Int32)
    for position, weight in enumerate(weights):
        total = total + number // 10**position % 10 * weight
    return pl.select((total % modulus).cast(pl.UInt8)).to_series()


def _digit_string_test(
    value: pl.Expr, width: int, dtype: pl.DataType, test: Callable[[pl.Expr], pl.Expr]
) -> pl.Expr:
    """`test(number)` where `value` is exactly `width` ASCII digits; False for any other text, and
    unknown (null) for an empty value.

    The number is parsed once and shared through a struct field: the in-memory engine does not
    eliminate common subexpressions, and a test reads the number several times. Polars' integer
    cast accepts exactly an optional '+' followed by ASCII digits, and '+' sorts before '0', so
    length, order and a successful cast together are the shape check without a regex (three
    times cheaper, and `\\d` in a regex would also accept non-ASCII digits).
    """
    text, number = pl.field("text"), pl.field("number")
    # An unparseable value fails; an empty one stays unknown, so `not elfproef(x)` does not fire.
    parsed = number.is_not_null() | text.is_null()
    # Only a value of the right shape is parsed at all: `test` looks digits up in tables sized
    # for `width` digits, and a whole column is evaluated at once, so one longer number (a
    # 10-digit "BSN") would index past a table and crash the run instead of failing its own row.
    shaped = (value.str.len_bytes() == width) & (value >= "0")
    shaped_number = pl.when(shaped).then(value.cast(dtype, strict=False))
    both = pl.struct(value.alias("text"), shaped_number.alias("number"))
    ok = both.struct.with_fields((parsed & test(number)).alias("ok")).struct.field("ok")
    return ok.name.keep()


@cache
def _bsn_tables() -> tuple[pl.Series, pl.Series]:
    # Weights from the least significant digit: -1, 2, 3, ..., 9. Tables of four digits (positions
    # 5-8 and 1-4) cost well under a millisecond to build, which every run pays at spec load.
    return _weighted_digit_sums((6, 7, 8, 9), 11), _weighted_digit_sums((2, 3, 4, 5), 11)


def _elfproef(value: pl.Expr) -> pl.Expr:
    """The BSN eleven-test on a 9-digit string: sum(d_i * w_i) with w = 9..2, -1 is 0 mod 11."""
    high, middle = _bsn_tables()

    def test(number: pl.Expr) -> pl.Expr:
        # The last digit has weight -1: the other eight must sum to it mod 11.
        total = pl.lit(high).gather(number // 100_000) + pl.lit(middle).gather(
            number // 10 % 10_000
        )
        return (total % 11 == number % 10) & (number != 0)

    return _digit_string_test(value, 9, pl.UInt32(), test)


@cache
def _gs1_table() -> pl.Series:
    # From the check digit leftwards the weights are 1, 3, 1, 3, ...: every chunk of four digits
    # from the right has the weights 1, 3, 1, 3.
    return _weighted_digit_sums((1, 3, 1, 3), 10)


def _gs1_check(value: pl.Expr) -> pl.Expr:
    """The GS1 check digit of a GTIN-14: weights 3,1,3,... from the left over 13 digits."""
    table = pl.lit(_gs1_table())

    def test(number: pl.Expr) -> pl.Expr:
        # The weighted sum including the check digit (weight 1) is a multiple of 10.
        total = (
            table.gather(number % 10_000)
            + table.gather(number // 10**4 % 10_000)
            + table.gather(number // 10**8 % 10_000)
            + table.gather(number // 10**12)
        )
        return total % 10 == 0

    return _digit_string_test(value, 14, pl.UInt64(), test)


#: The Gregorian calendar repeats every 400 years, which are exactly this many days.
_CYCLE_DAYS = 146_097
_EPOCH = dt.date(1970, 1, 1)


@cache
def _cycle_ymd() -> pl.Series:
    """yyyymmdd (Int32) of each day of the 400-year cycle that starts on Polars' day 0."""
    # Built from one leap year's month-days, at a third of the cost of extracting year, month
    # and day from 146,097 dates: every run pays this at spec load.
    leap_year = pl.date_range(dt.date(2000, 1, 1), dt.date(2000, 12, 31), eager=True)
    month_day = leap_year.dt.month().cast(pl.Int32) * 100 + leap_year.dt.day().cast(pl.Int32)
    common = month_day.filter(month_day != 229)
    years = range(_EPOCH.year, _EPOCH.year + 400)
    days = [(month_day if isleap(y) else common) + y * 10_000 for y in years]
    return pl.concat(days, rechunk=True)


def _calendar(date: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """A date as (whole 400-year cycles since 1970, its yyyymmdd within the first cycle).

    Polars extracts a year, month or day with one calendar conversion each (about 15 ms per
    million values apiece); a lookup in a table of one cycle and Int32 arithmetic is cheaper, and
    keeping the cycles apart keeps every date Polars can hold within Int32.
    """
    days = _day_number(date)
    return days // _CYCLE_DAYS, pl.lit(_cycle_ymd()).gather(days % _CYCLE_DAYS)


def _day_number(date: pl.Expr) -> pl.Expr:
    """Days since 1970-01-01 (Int32); like any `.dt` function, an error for what is no date."""
    return date.dt.date().to_physical()


def _age(birth: pl.Expr, at: pl.Expr) -> pl.Expr:
    """Completed years between two dates (the age a person has on `at`).

    In yyyymmdd numbers, the years between two dates are the ten-thousands of their difference,
    less one when the month and day of `at` come before those of the birth date; floor division
    does exactly that (someone born on 29 February has a birthday on 1 March in other years). A
    cycle is 400 years, and 4,000,000 in yyyymmdd is a multiple of 10,000.
    """
    birth_cycles, birth_ymd = _calendar(birth)
    at_cycles, at_ymd = _calendar(at)
    return (at_cycles - birth_cycles) * 400 + (at_ymd - birth_ymd) // 10_000


def _year(date: pl.Expr) -> pl.Expr:
    cycles, ymd = _calendar(date)
    return cycles * 400 + ymd // 10_000


def _month(date: pl.Expr) -> pl.Expr:
    return (_calendar(date)[1] // 100 % 100).cast(pl.Int8)


def _date_literal(arg: Node) -> dt.date:
    if not (isinstance(arg, Literal) and isinstance(arg.value, str)):
        raise RuleSyntaxError("date() takes one literal 'YYYY-MM-DD'")
    try:
        return dt.date.fromisoformat(arg.value)
    except ValueError:
        raise RuleSyntaxError(f"date({arg.value!r}) is not a date YYYY-MM-DD") from None


_ARITY: dict[str, tuple[int, int]] = {
    "today": (0, 0),
    "organisation": (0, 0),
    "date": (1, 1),
    "year": (1, 1),
    "month": (1, 1),
    "quarter": (1, 1),
    "length": (1, 1),
    "elfproef": (1, 1),
    "gs1_check": (1, 1),
    "age": (2, 2),
    "days_between": (2, 2),
    "add_months": (2, 2),
    "n_unique": (1, 1),
    "is_duplicated": (1, 1),
    "exists": (1, 2),
    "coalesce": (2, 9),
    "if": (3, 3),
}

FUNCTIONS = frozenset(_ARITY)


def compile_expr(node: Node, ctx: Context) -> pl.Expr:
    """Compile an expression to a Polars expression evaluated over the typed record columns."""
    return _Compiler(ctx).expr(node)


def compile_condition(node: Node, ctx: Context) -> pl.Expr:
    """Compile a rule condition: a Boolean that is False wherever the condition is unknown."""
    return compile_expr(node, ctx).fill_null(False)


class _Compiler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def expr(self, node: Node) -> pl.Expr:
        match node:
            case Literal(value=value):
                return pl.lit(value)
            case FieldRef(name=name):
                if name in _KEYWORDS:
                    raise RuleSyntaxError(f"{name!r} is a keyword, not a field")
                if name not in self.ctx.fields:
                    raise RuleSyntaxError(f"unknown field {name!r}")
                return pl.col(name)
            case Dotted(head=head, field=field):
                column = self.ctx.dotted(head, field)
                if column is None:
                    raise RuleSyntaxError(f"unknown reference {head}.{field}")
                return pl.col(column)
            case Compare(op=op, left=left, right=right):
                return self._compare(op, self.expr(left), self.expr(right))
            case In(value=value, items=items, negated=negated):
                target = self.expr(value)
                hits = [target.eq_missing(self.expr(item)) for item in items]
                found = pl.any_horizontal(hits)
                return ~found if negated else found
            case IsEmpty(value=value, negated=negated):
                empty = self.expr(value).is_null()
                return ~empty if negated else empty
            case Arith(op=op, left=left, right=right):
                return self._arith(op, self.expr(left), self.expr(right))
            case Logic(op="not", args=(arg,)):
                return ~self.expr(arg)
            case Logic(op="and", args=args):
                return pl.all_horizontal([self.expr(a) for a in args])
            case Logic(op="or", args=args):
                return pl.any_horizontal([self.expr(a) for a in args])
            case Call(function=fn, args=args):
                return self._call(fn, args)
        raise RuleSyntaxError(f"unsupported expression {node!r}")

    @staticmethod
    def _compare(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
        match op:
            case "=":
                return left.eq_missing(right)
            case "!=":
                return left.ne_missing(right)
            case "<":
                return left < right
            case "<=":
                return left <= right
            case ">":
                return left > right
            case ">=":
                return left >= right
        raise RuleSyntaxError(f"unknown comparison {op!r}")

    @staticmethod
    def _arith(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
        match op:
            case "+":
                return left + right
            case "-":
                return left - right
            case "*":
                return left * right
            case "/":
                # Division by zero is unknown, not infinite: a rule about a ratio says nothing
                # about a record whose denominator is zero.
                return pl.when(right != 0).then(left.cast(pl.Float64) / right)
        raise RuleSyntaxError(f"unknown operator {op!r}")

    def _call(self, fn: str, args: tuple[Node, ...]) -> pl.Expr:
        if fn not in _ARITY:
            raise RuleSyntaxError(f"unknown function {fn}()")
        low, high = _ARITY[fn]
        if not low <= len(args) <= high:
            raise RuleSyntaxError(f"{fn}() takes {low}..{high} arguments, got {len(args)}")
        if fn == "today":
            return pl.lit(self.ctx.today, dtype=pl.Date)
        if fn == "organisation":
            return pl.lit(self.ctx.organisation, dtype=pl.String)
        if fn == "date":
            return pl.lit(_date_literal(args[0]), dtype=pl.Date)
        if fn == "exists":
            table = args[0]
            if not isinstance(table, FieldRef):
                raise RuleSyntaxError("exists() takes a table name first")
            condition = args[1] if len(args) > 1 else Literal(1)
            column = self.ctx.exists(table.name, condition)
            if column is None:
                raise RuleSyntaxError(f"unknown table in exists({table.name})")
            return pl.col(column)
        a = [self.expr(x) for x in args]
        match fn:
            case "year":
                return _year(a[0])
            case "month":
                return _month(a[0])
            case "quarter":
                return (_month(a[0]) + 2) // 3
            case "length":
                return a[0].cast(pl.String).str.len_chars()
            case "elfproef":
                return _elfproef(a[0])
            case "gs1_check":
                return _gs1_check(a[0])
            case "age":
                return _age(a[0], a[1])
            case "days_between":
                # Subtracting day numbers skips building a Duration and converting it back.
                return _day_number(a[1]).cast(pl.Int64) - _day_number(a[0])
            case "add_months":
                months = _int_value(args[1])
                if months is None:
                    raise RuleSyntaxError("add_months() takes a whole number of months")
                return a[0].dt.offset_by(f"{months}mo")
            case "n_unique":
                return a[0].n_unique()
            case "is_duplicated":
                return a[0].is_duplicated()
            case "coalesce":
                return pl.coalesce(a)
            case "if":
                return pl.when(a[0].fill_null(False)).then(a[1]).otherwise(a[2])
        raise RuleSyntaxError(f"unknown function {fn}()")


def _int_value(node: Node) -> int | None:
    """The value of a whole-number literal (`3`, `-1`), or None for anything else."""
    match node:
        case Literal(value=int() as v):
            return v
        case Arith(op="-", left=Literal(value=0), right=Literal(value=int() as v)):
            return -v
    return None


def expand_each(
    template: str, each: dict[str, list[Any]] | None
) -> list[tuple[dict[str, Any], str]]:
    """Expand `{i}` placeholders once per value of `each` (one variable at most keeps it simple)."""
    if not each:
        return [({}, template)]
    if len(each) != 1:
        raise RuleSyntaxError("each: takes exactly one variable")
    ((var, values),) = each.items()
    return [({var: v}, template.replace("{" + var + "}", str(v))) for v in values]
