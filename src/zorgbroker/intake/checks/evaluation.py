"""The evaluation of one table, or one batch of it, as lazy Polars queries: each field's text
(normalised) and typed value, its one message, the rules, and each record's fate."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.checks.carried import findings_field_message, findings_rule_outcome
from zorgbroker.intake.report.model import REJECTING_CLASSES
from zorgbroker.intake.spec.model import DatasetSpec, TableSpec


def numbered(frame: pl.DataFrame | pl.LazyFrame, first: int) -> pl.LazyFrame:
    """The frame with each record's number (counted from `first`) in ROW."""
    return frame.lazy().with_row_index(ROW, offset=first).with_columns(pl.col(ROW).cast(pl.Int64))


def texts(
    plan: p.TablePlan, frame: pl.LazyFrame, spec: DatasetSpec, *, padded: bool, keep: list[str]
) -> pl.LazyFrame:
    """The record number, the `keep` columns and each field's normalised text."""
    present = set(frame.collect_schema().names())
    if plan.carried is not None:  # a stage-1 table's findings, derived and sealed columns
        keep = [*keep, *(c for c in plan.carried.columns if c in present)]
    out = frame.select(pl.col(ROW), *keep, *p.text_exprs(plan.fields, present, padded=padded))
    # A stage-1 table's identifying fields are pseudonyms or reductions already.
    normalised = [f for f in plan.fields if plan.carried is None or not f.identifying]
    more = p.normalise_exprs(normalised, spec)
    return out.with_columns(more) if more else out


def field_exprs(plan: p.TablePlan, spec: DatasetSpec, ctx: rl.Context) -> list[pl.Expr]:
    exprs = []
    for f in plan.fields:
        if plan.carried is not None and f.name in plan.carried.fields:
            exprs.append(findings_field_message(f))
            continue
        required_when = None
        if f.name in plan.required_when:
            required_when = rl.compile_condition(plan.required_when[f.name], ctx)
        exprs.append(p.field_message_expr(f, spec, required_when))
    return exprs


def rule_exprs(plan: p.TablePlan, ctx: rl.Context) -> list[pl.Expr]:
    exprs = []
    for rule in plan.rules:
        if plan.carried is not None and rule.index in plan.carried.rules:
            exprs.append(findings_rule_outcome(rule))
            continue
        cond = rl.compile_condition(rule.condition, ctx)
        if rule.scope == "record":
            blocked = [pl.col(p.msg_col(name)).is_not_null() for name in sorted(rule.reads)]
            if blocked:
                cond = cond & ~pl.any_horizontal(blocked)
        exprs.append(cond.alias(p.rule_col(rule.index)))
    return exprs


def prepare(
    plan: p.TablePlan,
    frame: pl.LazyFrame,
    date_format: str,
    spec: DatasetSpec,
    ctx: rl.Context,
    *,
    padded: bool = True,
    keep: list[str] | None = None,
) -> pl.LazyFrame:
    """Text, typed values and field messages of every field of a `numbered` frame, lazily."""
    return (
        texts(plan, frame, spec, padded=padded, keep=keep or [])
        .with_columns([p.typed_expr(f, date_format) for f in plan.fields])
        .with_columns(field_exprs(plan, spec, ctx))
    )


def rejected_flag(plan: p.TablePlan) -> pl.Expr:
    """True for a record with a message of a rejecting class (F or TF)."""
    flags: list[pl.Expr] = []
    for f in plan.fields:
        rejecting = [
            p.code_index(f, code)
            for code in p.field_codes(f)
            if code.split("-")[0] in REJECTING_CLASSES
        ]
        flags.append(pl.col(p.msg_col(f.name)).is_in(rejecting).fill_null(False))
    flags += [
        pl.col(p.rule_col(r.index))
        for r in plan.rules
        if r.scope == "record" and r.code.split("-")[0] in REJECTING_CLASSES
    ]
    return pl.any_horizontal(flags) if flags else pl.lit(False)


def message_flag(plan: p.TablePlan) -> pl.Expr:
    """True for a record with any record-level message."""
    flags = [pl.col(p.msg_col(f.name)).is_not_null() for f in plan.fields]
    flags += [pl.col(p.rule_col(r.index)) for r in plan.rules if r.scope == "record"]
    return pl.any_horizontal(flags)


def date_fields(table: TableSpec) -> list[str]:
    return [f.name for f in table.fields if f.type == "date"]


def date_format(plan: p.TablePlan, batch: pl.DataFrame) -> str:
    """The table's date format: decided from its first rows, or for a stage-1 table the one the
    source decided (its birth dates are years by now)."""
    if plan.carried is not None:
        return plan.carried.date_format
    return p.detect_date_format(batch, date_fields(plan.table))
