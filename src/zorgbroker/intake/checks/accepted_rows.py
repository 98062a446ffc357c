"""The accepted records as the registry may keep them: identifying fields pseudonymised, reduced
or dropped, derived values added."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.checks.context import CheckOptions
from zorgbroker.intake.checks.plan import text_col


def accepted_query(frame: pl.LazyFrame, plan: p.TablePlan, ctx: rl.Context) -> pl.LazyFrame:
    """What the registry may keep of accepted records: never a BSN, a name or a birth date.

    Fields to pseudonymise keep their normalised text under text_col(name) until
    `pseudonymised` replaces it; every other identifying field is reduced or dropped here.
    """
    carried = plan.carried
    derived = [
        # A stage-1 table carries what the source derived from identifying fields.
        pl.col(name).cast(carried.derived_types[name])
        if carried is not None and name in carried.derived
        else rl.compile_expr(node, ctx).alias(name)
        for name, node in plan.derive.items()
    ]
    frame = frame.with_columns(derived) if derived else frame
    columns: list[pl.Expr] = [pl.col(ROW)]
    for f in plan.fields:
        match f.identifying:
            case None:
                columns.append(pl.col(f.name))
            case "year" if carried is not None:
                columns.append(pl.col(text_col(f.name)).cast(pl.Int32).alias(f.name))
            case "year":
                columns.append(pl.col(f.name).dt.year().alias(f.name))
            case "postcode4":
                columns.append(pl.col(text_col(f.name)).str.slice(0, 4).alias(f.name))
            case "pseudonymise":
                columns.append(pl.col(text_col(f.name)))
            case "drop":
                pass
    columns += [pl.col(name) for name in plan.derive]
    if carried is not None:
        columns += [pl.col(column) for column in carried.sealed.values()]
    return frame.select(columns)


def pseudonymised(frame: pl.DataFrame, plan: p.TablePlan, options: CheckOptions) -> pl.DataFrame:
    """Replace the text of each field to pseudonymise by its pseudonym (or drop it: a test check
    has no pseudonymiser, and then the identifier is simply not kept)."""
    for f in plan.fields:
        if f.identifying != "pseudonymise":
            continue
        values = frame[text_col(f.name)]
        frame = frame.drop(text_col(f.name))
        if plan.carried is not None:
            # A stage-1 pseudonym (with its sealed BSN) goes to the TTP through the relay.
            sealed_column = plan.carried.sealed.get(f.name)
            sealed = frame[sealed_column] if sealed_column else None
            if sealed_column:
                frame = frame.drop(sealed_column)
            if options.relay is not None:
                relayed = options.relay(plan.table.name, f.name, values, sealed)
                frame = frame.with_columns(relayed.alias(f.name))
            continue
        if options.pseudonymise is not None:
            frame = frame.with_columns(
                options.pseudonymise(plan.table.name, f.name, values).alias(f.name)
            )
    return frame
