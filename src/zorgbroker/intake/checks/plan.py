"""Turns a dataset specification into check plans: Polars expressions, compiled once per run.

A plan knows, for one table, how to normalise and type each field, the field checks in the order
that decides which single message a value gets, the cross-field rules, and what other tables the
rules reach into (references to follow, `exists` flags to compute).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.spec.model import DatasetSpec, FieldSpec, TableSpec

if TYPE_CHECKING:
    from zorgbroker.intake.checks.carried import Carried

#: A text field without its own maximum still may not be longer than this (F-005): it bounds
#: what a hostile file can make the engine carry around.
DEFAULT_MAX_LENGTH = 4096

ISO = "%Y-%m-%d"
DMY = "%d-%m-%Y"
_ISO_RE = r"^\d{4}-\d{2}-\d{2}$"
_DMY_RE = r"^\d{2}-\d{2}-\d{4}$"


def text_col(name: str) -> str:
    """Column holding a field's normalised text; the field's own name holds its typed value."""
    return f"__text__{name}"


def msg_col(name: str) -> str:
    return f"__msg__{name}"


def rule_col(index: int) -> str:
    return f"__rule__{index}"


@dataclass(frozen=True)
class CompiledRule:
    index: int
    code: str
    field: str | None
    scope: str
    condition: rl.Node
    reads: frozenset[str]


@dataclass
class TablePlan:
    table: TableSpec
    rules: list[CompiledRule]
    #: (head, field) of every dotted reference the rules use, with its column name.
    dotted: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (child table, condition) of every exists() the rules use, with its column name.
    exists: dict[tuple[str, rl.Node], str] = field(default_factory=dict)
    required_when: dict[str, rl.Node] = field(default_factory=dict)
    derive: dict[str, rl.Node] = field(default_factory=dict)
    #: For a stage-1 file: what the source checked and carries (see `checks.carried`).
    carried: Carried | None = None

    @property
    def fields(self) -> list[FieldSpec]:
        return self.table.fields

    @property
    def needs_whole_table(self) -> bool:
        """Whether the checks compare rows with each other (so batches must be joined first)."""
        return (
            any(f.unique or f.references for f in self.fields)
            or any(r.scope == "file" for r in self.rules)
            or bool(self.dotted)
            or bool(self.exists)
            or self.table.rows == "one"
        )


def _dotted_name(head: str, fld: str) -> str:
    return f"__ref__{head}__{fld}"


def build_plans(spec: DatasetSpec) -> dict[str, TablePlan]:
    """Parse every expression of the specification and check the names it uses."""
    plans: dict[str, TablePlan] = {}
    tables = {t.name: t for t in spec.tables}
    for table in spec.tables:
        names = {f.name for f in table.fields}
        plan = TablePlan(table=table, rules=[])
        for rule in table.rules:
            for values, text in rl.expand_each(rule.when, rule.each):
                fld = rule.field
                for var, value in values.items():
                    fld = fld.replace("{" + var + "}", str(value)) if fld else fld
                plan.rules.append(_compile_rule(plan, names, rule.code, fld, rule.scope, text))
        for f in table.fields:
            if isinstance(f.required, str):
                node = rl.parse(f.required)
                _check_names(node, names, f"{table.name}.{f.name} required")
                plan.required_when[f.name] = node
        for name, text in table.derive.items():
            node = rl.parse(text)
            _check_names(node, names, f"{table.name} derive {name}")
            plan.derive[name] = node
        # Register dotted/exists used by the rules now that every rule is parsed.
        for r in plan.rules:
            for node in rl.walk(r.condition):
                if isinstance(node, rl.Dotted):
                    _resolve_dotted(spec, table, node.head, node.field)
                    plan.dotted[(node.head, node.field)] = _dotted_name(node.head, node.field)
                if isinstance(node, rl.Call) and node.function == "exists":
                    child = node.args[0]
                    assert isinstance(child, rl.FieldRef)
                    cond = node.args[1] if len(node.args) > 1 else rl.Literal(1)
                    exists_reference(spec, table, child.name)
                    child_names = {f.name for f in tables[child.name].fields}
                    _check_names(cond, child_names, f"{table.name} exists({child.name})")
                    plan.exists[(child.name, cond)] = f"__exists__{len(plan.exists)}"
        plans[table.name] = plan
        # Compile once against a dummy context so unknown functions and names fail at load.
        ctx = context_for(plan, today=dt.date(2000, 1, 1), organisation=None)
        for r in plan.rules:
            rl.compile_condition(r.condition, ctx)
        for node in [*plan.required_when.values(), *plan.derive.values()]:
            rl.compile_expr(node, ctx)
        for f in table.fields:
            if f.pattern:
                try:
                    re.compile(f.pattern)
                except re.error as exc:
                    raise ValueError(f"{table.name}.{f.name}: bad pattern: {exc}") from None
    return plans


def _compile_rule(
    plan: TablePlan, names: set[str], code: str, fld: str | None, scope: str, text: str
) -> CompiledRule:
    node = rl.parse(text)
    _check_names(node, names, f"{plan.table.name} rule {code}")
    if fld is not None and fld not in names:
        raise ValueError(f"{plan.table.name} rule {code} names unknown field {fld!r}")
    return CompiledRule(len(plan.rules), code, fld, scope, node, frozenset(rl.field_names(node)))


def _check_names(node: rl.Node, names: set[str], where: str) -> None:
    unknown = sorted(rl.field_names(node) - names)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")
    for n in rl.walk(node):
        if isinstance(n, rl.Call) and n.function not in rl.FUNCTIONS:
            raise ValueError(f"{where}: unknown function {n.function}()")


def _resolve_dotted(spec: DatasetSpec, table: TableSpec, head: str, fld: str) -> None:
    """A dotted name is a one-row table's field, or a field reached through a reference."""
    if head in {f.name for f in table.fields}:
        ref = table.field(head).references
        if ref is None:
            raise ValueError(f"{table.name}: {head}.{fld}: {head} is not a reference")
        target = spec.table(ref.table)
    else:
        try:
            target = spec.table(head)
        except KeyError:
            raise ValueError(f"{table.name}: {head}.{fld}: no such table or reference") from None
        if target.rows != "one":
            raise ValueError(f"{table.name}: {head}.{fld}: {head} is not a one-row table")
    if fld not in {f.name for f in target.fields}:
        raise ValueError(f"{table.name}: {head}.{fld}: {target.name} has no field {fld!r}")


def exists_reference(spec: DatasetSpec, table: TableSpec, child: str) -> FieldSpec:
    """The field of `child` that references `table`: what exists(child, ...) joins on."""
    try:
        child_table = spec.table(child)
    except KeyError:
        raise ValueError(f"{table.name}: exists({child}): no such table") from None
    for f in child_table.fields:
        if f.references and f.references.table == table.name:
            return f
    raise ValueError(f"{table.name}: exists({child}): {child} has no reference to {table.name}")


def context_for(plan: TablePlan, *, today: dt.date, organisation: str | None) -> rl.Context:
    def dotted(head: str, fld: str) -> str | None:
        return plan.dotted.get((head, fld))

    def exists(child: str, cond: rl.Node) -> str | None:
        return plan.exists.get((child, cond))

    return rl.Context(
        fields=frozenset(f.name for f in plan.fields),
        today=today,
        organisation=organisation,
        dotted=dotted,
        exists=exists,
    )


# --- field expressions ---------------------------------------------------------------------------


def text_exprs(fields: list[FieldSpec], present: set[str], *, padded: bool) -> list[pl.Expr]:
    """Each field's text, trimmed when `padded` (a cell may have surrounding white space, so a
    cell of only white space may also turn empty); a column the file lacks reads as empty."""
    exprs = []
    for f in fields:
        if f.name not in present:
            exprs.append(pl.lit(None, dtype=pl.String).alias(text_col(f.name)))
        elif padded:
            text = pl.col(f.name).cast(pl.String).str.strip_chars()
            exprs.append(pl.when(text.str.len_bytes() > 0).then(text).alias(text_col(f.name)))
        else:
            exprs.append(pl.col(f.name).cast(pl.String).alias(text_col(f.name)))
    return exprs


def _codes(f: FieldSpec, spec: DatasetSpec) -> dict[str, str]:
    if isinstance(f.codes, str):
        return spec.code_lists[f.codes]
    return dict.fromkeys(f.codes or [], "")


def normalise_exprs(fields: list[FieldSpec], spec: DatasetSpec) -> list[pl.Expr]:
    """BSN clean-up, digit extraction, zero padding and upper-casing of the normalised text.

    Each step is applied under a cheap per-record guard that is false only where the step would
    change nothing: Polars evaluates a `then` branch for the guarded records alone, so clean
    exports (the usual case) pay for the guard and not for the string rewriting.
    """
    exprs = []
    for f in fields:
        text = pl.col(text_col(f.name))
        changed = False
        if f.normalise == "bsn":
            # A BSN loses its leading zero in spreadsheets, and people write it with dots. A
            # value of nine characters that parses as a number has no dots, spaces or hyphens
            # and is not eight digits long, so the clean-up would leave it as it is.
            suspect = (text.str.len_bytes() != 9) | text.cast(pl.UInt64, strict=False).is_null()
            digits = text.str.replace_all(r"[\s.\-]", "")
            cleaned = pl.when(digits.str.contains(r"^\d{8}$")).then(pl.lit("0") + digits)
            text = pl.when(suspect).then(cleaned.otherwise(digits)).otherwise(text)
            changed = True
        elif f.normalise == "digits":
            text = pl.when(text.str.contains(r"\D")).then(text.str.replace_all(r"\D", ""))
            text = text.otherwise(pl.col(text_col(f.name)))
            changed = True
        if f.pad_digits is not None:
            shortest = f.pad_min if f.pad_min is not None else f.pad_digits - 1
            length = text.str.len_bytes()
            short = (length >= shortest) & (length < f.pad_digits)
            padded = pl.when(text.str.contains(r"^\d+$")).then(text.str.zfill(f.pad_digits))
            text = pl.when(short).then(padded.otherwise(text)).otherwise(text)
            changed = True
        if f.normalise == "upper":
            codes = list(_codes(f, spec)) if f.codes is not None else []
            if codes and all(code == code.upper() for code in codes):
                # A listed code is upper case already: only other values need folding.
                upper = pl.when(~_is_code(text, codes)).then(text.str.to_uppercase())
                text = upper.otherwise(text)
            else:
                text = text.str.to_uppercase()
            changed = True
        if changed:
            exprs.append(text.alias(text_col(f.name)))
    return exprs


#: The Polars type of a field's typed value, by its specification type (see `typed_expr`).
_DTYPES: dict[str, pl.DataType] = {
    "integer": pl.Int64(),
    "number": pl.Float64(),
    "date": pl.Date(),
}


def field_dtype(f: FieldSpec) -> pl.DataType:
    """The type of a field's typed value: what `typed_expr` makes of its text."""
    return _DTYPES.get(f.type, pl.String())


def typed_expr(f: FieldSpec, date_format: str) -> pl.Expr:
    """The field's value in its type, read from its normalised text; null where unparseable."""
    text = pl.col(text_col(f.name))
    match f.type:
        case "integer":
            # Up to 18 digits after an optional sign, at a third of the cost of a regex: Polars'
            # integer cast accepts exactly an optional sign and ASCII digits, and a value of 19
            # characters has 18 digits when it starts with a sign, which sorts before '0'.
            length = text.str.len_bytes()
            ok = (length <= 18) | ((length == 19) & (text < "0"))
            return pl.when(ok).then(text.cast(pl.Int64, strict=False)).alias(f.name)
        case "number":
            # Dutch exports write decimals with a comma as often as with a point.
            num = text.str.replace(",", ".", literal=True)
            ok = num.str.contains(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
            return pl.when(ok).then(num.cast(pl.Float64, strict=False)).alias(f.name)
        case "date":
            # Polars' parse cache (the same parser behind it) pays only for few distinct values:
            # a few hundred distinct dates parse in 24 ms per million cached and 31 ms not, but
            # birth dates in 72 ms cached and 32 ms not.
            return text.str.to_date(date_format, strict=False, cache=False).alias(f.name)
    return text.alias(f.name)


def field_codes(f: FieldSpec) -> list[str]:
    """Every code a field's own checks can give it, in a fixed order.

    A field's message column holds the 1-based position of its code in this list (a small
    integer, far cheaper per record than a string); codes are looked up only for the few records
    that have a message.
    """
    codes = [f.missing_code, f.format_code, f.length_code, f.codes_code, f.range_code]
    codes.append(f.unique_code)
    if f.references is not None:
        codes.append(f.references.code)
    return list(dict.fromkeys(codes))


def code_index(f: FieldSpec, code: str) -> int:
    return field_codes(f).index(code) + 1


def field_message_expr(f: FieldSpec, spec: DatasetSpec, required_when: pl.Expr | None) -> pl.Expr:
    """The index (see `field_codes`) of the one code a field gets, the first check it fails."""
    text = pl.col(text_col(f.name))
    typed = pl.col(f.name)
    present = text.is_not_null()
    branches: list[tuple[pl.Expr, str]] = []
    if f.required is True:
        branches.append((~present, f.missing_code))
    elif required_when is not None:
        branches.append((~present & required_when, f.missing_code))
    if f.type in ("integer", "number", "date"):
        branches.append((present & typed.is_null(), f.format_code))
    if f.pattern:
        branches.append((present & ~_matches(text, f.pattern), f.format_code))
    if f.max_length is None and f.min_length is None:
        # The default cap only bounds hostile input, so bytes (cheap to count) will do.
        branches.append((present & (text.str.len_bytes() > DEFAULT_MAX_LENGTH), f.length_code))
    else:
        length = text.str.len_chars()
        wrong_length = length > (f.max_length if f.max_length is not None else DEFAULT_MAX_LENGTH)
        if f.min_length is not None:
            wrong_length = wrong_length | (length < f.min_length)
        branches.append((present & wrong_length, f.length_code))
    if f.codes is not None:
        branches.append((present & ~_is_code(text, list(_codes(f, spec))), f.codes_code))
    out_of_range = pl.lit(False)
    if f.minimum is not None:
        out_of_range = out_of_range | (typed < f.minimum)
    if f.maximum is not None:
        out_of_range = out_of_range | (typed > f.maximum)
    if f.minimum is not None or f.maximum is not None:
        branches.append((out_of_range.fill_null(False), f.range_code))
    if f.unique:
        branches.append((present & text.is_duplicated(), f.unique_code))
    # The first failing check wins: each branch yields its code's index or null, and coalesce
    # keeps the first in check order.
    indexes = [
        pl.when(cond.fill_null(False)).then(pl.lit(code_index(f, code), dtype=pl.UInt8))
        for cond, code in branches
    ]
    if not indexes:
        return pl.lit(None, dtype=pl.UInt8).alias(msg_col(f.name))
    return pl.coalesce(indexes).alias(msg_col(f.name))


#: `^\d{n}$` or `^\d{m,n}$` (or with `[0-9]`): patterns checked without a regex.
_DIGITS_PATTERN = re.compile(r"\^(?:\\d|\[0-9\])\{(\d+)(?:,(\d+))?\}\$")


def _ascii_digits(pattern: str) -> str:
    r"""A specification pattern as Polars is to run it: `\d` an ASCII digit, `\D` anything else.

    Rust's `\d` is any Unicode digit, which would let Arabic-Indic digits into codes that are
    only ever ASCII. Rust nests classes (`[a[0-9]]`), so the rewrite holds inside a class too.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            out.append({"d": "[0-9]", "D": "[^0-9]"}.get(escaped, "\\" + escaped))
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


def _matches(text: pl.Expr, pattern: str) -> pl.Expr:
    """Whether the whole text matches a specification pattern."""
    digits = _DIGITS_PATTERN.fullmatch(pattern)
    if digits is not None:
        shortest = int(digits.group(1))
        longest = int(digits.group(2) or shortest)
        if 1 <= shortest <= longest <= 19:
            # A regex costs some 40 ns a value whatever it says. Polars' UInt64 cast accepts
            # exactly an optional '+' and ASCII digits (up to 19 of them always fit), and '+'
            # sorts before '0': with the length that is the pattern, at a third of the cost.
            length = text.str.len_bytes()
            right_length = length.is_between(shortest, longest)
            number = text.cast(pl.UInt64, strict=False)
            return right_length & (text >= "0") & number.is_not_null()
    return text.str.contains(_ascii_digits(pattern))


def _is_code(text: pl.Expr, codes: list[str]) -> pl.Expr:
    """Whether the text is one of the codes.

    Polars' is_in searches a list of up to 8 values linearly for every record, at about twice
    the cost of one equality pass per code; from 9 values on it hashes, which is cheaper.
    """
    if 0 < len(codes) <= 8:
        return pl.any_horizontal([text == code for code in codes])
    return text.is_in(codes)


def detect_date_format(frame: pl.DataFrame, date_fields: list[str]) -> str:
    """One date format per file: the one most date values in the first batch are written in."""
    iso = dmy = 0
    sample = frame.head(10_000)
    for name in date_fields:
        if name not in sample.columns:
            continue
        col = sample.get_column(name).str.strip_chars()
        iso += int(col.str.contains(_ISO_RE).sum())
        dmy += int(col.str.contains(_DMY_RE).sum())
    return DMY if dmy > iso else ISO
