"""From an evaluated table to its messages: one row per record-level message, and the messages
of the rules that concern the whole file."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks.evaluation import message_flag
from zorgbroker.intake.checks.messages import Messages, with_texts
from zorgbroker.intake.checks.plan import text_col
from zorgbroker.intake.report.model import empty_messages
from zorgbroker.intake.spec.model import DatasetSpec


def shown_fields(plan: p.TablePlan) -> set[str]:
    """The fields whose value a message may repeat: never an identifying one."""
    return {f.name for f in plan.fields if not f.identifying}


def message_columns(plan: p.TablePlan) -> list[str]:
    """The columns `extract_messages` reads: the record number, each field's message, each
    record rule's outcome, and the text of the fields whose value a message may show."""
    shown = shown_fields(plan)
    record_rules = [r for r in plan.rules if r.scope == "record"]
    names = [ROW, *(p.msg_col(f.name) for f in plan.fields)]
    names += [p.rule_col(r.index) for r in record_rules]
    names += [text_col(f.name) for f in plan.fields if f.name in shown]
    return names


def extract_messages(
    ev_frame: pl.DataFrame, plan: p.TablePlan, spec: DatasetSpec, table: str | None
) -> pl.DataFrame:
    """Record-level messages as rows, ordered by record and then by the spec's check order."""
    fields = plan.fields
    record_rules = [r for r in plan.rules if r.scope == "record"]
    small = ev_frame.filter(message_flag(plan)) if "__any" not in ev_frame.columns else ev_frame
    if small.height == 0:
        return empty_messages()
    identifying = {f.name for f in fields if f.identifying}
    # One query for all parts: eager filters of a wide frame, one per field, cost far more.
    lazy = small.lazy().select(message_columns(plan))

    def value_of(name: str | None) -> pl.Expr:
        if name is None or name in identifying:
            return pl.lit(None, dtype=pl.String)
        return pl.col(text_col(name))

    parts = []
    for k, f in enumerate(fields):
        parts.append(
            lazy.filter(pl.col(p.msg_col(f.name)).is_not_null()).select(
                pl.col(ROW).alias("record"),
                pl.lit(f.name, dtype=pl.String).alias("field"),
                pl.col(p.msg_col(f.name))
                .replace_strict(
                    {p.code_index(f, c): c for c in p.field_codes(f)}, return_dtype=pl.String
                )
                .alias("code"),
                value_of(f.name).alias("value"),
                pl.lit(k, dtype=pl.Int32).alias("__order"),
            )
        )
    for r in record_rules:
        parts.append(
            lazy.filter(pl.col(p.rule_col(r.index))).select(
                pl.col(ROW).alias("record"),
                pl.lit(r.field, dtype=pl.String).alias("field"),
                pl.lit(r.code, dtype=pl.String).alias("code"),
                value_of(r.field).alias("value"),
                pl.lit(len(fields) + r.index, dtype=pl.Int32).alias("__order"),
            )
        )
    out = (
        pl.concat(parts)
        .sort("record", "__order")
        .drop("__order")
        .with_columns(pl.lit(table, dtype=pl.String).alias("table"))
        .collect()
    )
    return with_texts(out, spec)


#: A file-level message shows at most this many of the values that broke its rule.
FILE_RULE_VALUES = 5


def file_rule_values(ev_frame: pl.DataFrame, plan: p.TablePlan, rule: p.CompiledRule) -> str | None:
    """The distinct values of the rule's field in the rows that broke it, in file order: which
    practice, which quarter. None for an identifying field (the report never shows those)."""
    if rule.field not in shown_fields(plan) or text_col(rule.field) not in ev_frame.columns:
        return None
    values = (
        ev_frame.filter(pl.col(p.rule_col(rule.index)))
        .get_column(text_col(rule.field))
        .drop_nulls()
        .unique(maintain_order=True)
    )
    if values.len() == 0:
        return None
    listed = ", ".join(v[:60] for v in values.head(FILE_RULE_VALUES).to_list())
    more = values.len() - FILE_RULE_VALUES
    return f"{listed} (en nog {more})" if more > 0 else listed


def file_rule_messages(
    ev_frame: pl.DataFrame, plan: p.TablePlan, messages: Messages, table: str | None
) -> None:
    for r in plan.rules:
        if r.scope == "file" and ev_frame.height and bool(ev_frame[p.rule_col(r.index)].any()):
            value = file_rule_values(ev_frame, plan, r)
            messages.file(r.code, table=table, field=r.field, value=value)
