"""Checking tables whole: for checks that compare records with each other (uniqueness, rules over
the whole file) or reach into other tables (references, `praktijk.agb`, `exists`). In the
shipped datasets those tables are small.

Phases: text, typed values and field messages of every table; rules, with columns from other
tables joined in; references, a referenced table settled first; then each record's fate (a
rejected part rejects its record, a rejected record takes its parts along)."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.checks.accepted_rows import accepted_query, pseudonymised
from zorgbroker.intake.checks.carried import carried_columns
from zorgbroker.intake.checks.context import (
    CheckOptions,
    CheckOutcome,
    build_report,
    read_batches,
    rule_context,
)
from zorgbroker.intake.checks.evaluation import date_format as evaluation_date_format
from zorgbroker.intake.checks.evaluation import (
    numbered,
    prepare,
    rejected_flag,
    rule_exprs,
)
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.checks.plan import text_col
from zorgbroker.intake.checks.record_messages import extract_messages, file_rule_messages
from zorgbroker.intake.checks.repeated_rows import report_repeated_rows, row_hashes
from zorgbroker.intake.checks.structure import renamed
from zorgbroker.intake.readers.base import Upload
from zorgbroker.intake.spec.model import DatasetSpec


def check_whole_tables(
    upload: Upload,
    spec: DatasetSpec,
    plans: dict[str, p.TablePlan],
    options: CheckOptions,
    messages: Messages,
) -> CheckOutcome:
    multi = spec.multi_table
    frames: dict[str, pl.DataFrame] = {}
    # Phase A: text, types and field messages of every table.
    for t in spec.tables:
        source = upload.tables.get(t.name if multi else "main")
        if source is None:
            continue
        raws = list(read_batches(source, upload, options))
        raw = (
            pl.concat(raws) if raws else pl.DataFrame(schema={c: pl.String for c in source.header})
        )
        if plans[t.name].carried is None:  # a stage-1 file's repeated rows: the source's finding
            report_repeated_rows(
                [row_hashes(raw)] if raw.height else [], messages, t.name if multi else None
            )
        batch = renamed(raw, t, keep=carried_columns(plans[t.name]))
        date_format = evaluation_date_format(plans[t.name], batch)
        ctx = rule_context(plans[t.name], options)
        frames[t.name] = prepare(
            plans[t.name], numbered(batch, 1), date_format, spec, ctx
        ).collect()
    main = spec.main_table
    for t in spec.tables:
        if t.rows == "one" and t.name in frames and frames[t.name].height != 1:
            messages.file(t.rows_code or "BF-005", table=t.name if multi else None)
    if frames.get(main.name) is None or frames[main.name].height == 0:
        if not messages.has_file_rejection():
            messages.file("BF-005", table=main.name if multi else None)
        return CheckOutcome(build_report(spec, options, upload.info, messages, 0, 0))
    if messages.has_file_rejection():
        return CheckOutcome(
            build_report(spec, options, upload.info, messages, frames[main.name].height, 0)
        )
    # Phase B: rules, with columns from other tables joined in where rules reach for them.
    for t in spec.tables:
        plan = plans[t.name]
        frame = _with_lookups(frames[t.name], plan, spec, frames, plans, options)
        rules = rule_exprs(plan, rule_context(plan, options))
        frames[t.name] = frame.with_columns(rules) if rules else frame
    # Phase C: references, in an order where a referenced table is settled first.
    for name in _reference_order(spec):
        frames[name] = _check_references(frames[name], plans[name], frames, plans, spec)
    frames = _without_a_rejected_single_row(spec, _settle_parts(spec, plans, frames))
    for t in spec.tables:
        table_key = t.name if multi else None
        frame = frames[t.name]
        file_rule_messages(frame, plans[t.name], messages, table_key)
        messages.add_table(t.name, extract_messages(frame, plans[t.name], spec, table_key))
    records = frames[main.name].height
    rejected = int(frames[main.name]["__rejected"].sum())
    accepted: dict[str, pl.DataFrame] = {}
    if options.collect_accepted:
        for t in spec.tables:
            plan = plans[t.name]
            keep = frames[t.name].lazy().filter(~pl.col("__rejected"))
            rows = accepted_query(keep, plan, rule_context(plan, options)).collect()
            accepted[t.name] = pseudonymised(rows, plan, options)
    return CheckOutcome(
        build_report(spec, options, upload.info, messages, records, rejected), accepted
    )


def _with_lookups(
    frame: pl.DataFrame,
    plan: p.TablePlan,
    spec: DatasetSpec,
    frames: dict[str, pl.DataFrame],
    plans: dict[str, p.TablePlan],
    options: CheckOptions,
) -> pl.DataFrame:
    names = {f.name for f in plan.fields}
    for (head, fld), column in plan.dotted.items():
        if head in names:
            ref = plan.table.field(head).references
            assert ref is not None
            target = frames.get(ref.table)
            if target is None:
                frame = frame.with_columns(pl.lit(None).alias(column))
                continue
            lookup = (
                target.select(pl.col(text_col(ref.field)).alias("__key"), pl.col(fld).alias(column))
                .filter(pl.col("__key").is_not_null())
                .unique(subset="__key", keep="first", maintain_order=True)
            )
            frame = frame.join(lookup, left_on=text_col(head), right_on="__key", how="left")
        else:
            target = frames.get(head)
            value = target[fld][0] if target is not None and target.height == 1 else None
            dtype = target.schema[fld] if target is not None else pl.String
            frame = frame.with_columns(pl.lit(value, dtype=dtype).alias(column))
    for (child, cond), column in plan.exists.items():
        child_frame = frames.get(child)
        child_plan = plans[child]
        fk = p.exists_reference(spec, plan.table, child)
        assert fk.references is not None
        if child_frame is None:
            frame = frame.with_columns(pl.lit(False).alias(column))
            continue
        ctx = rule_context(child_plan, options)
        keys = child_frame.filter(rl.compile_condition(cond, ctx))[text_col(fk.name)].drop_nulls()
        frame = frame.with_columns(
            pl.col(text_col(fk.references.field)).is_in(keys.unique().implode()).alias(column)
        )
    return frame


def _reference_order(spec: DatasetSpec) -> list[str]:
    """Tables ordered so that every table comes after the tables it references (not parts)."""
    deps = {
        t.name: {f.references.table for f in t.fields if f.references and not f.references.part_of}
        for t in spec.tables
    }
    order: list[str] = []
    while len(order) < len(deps):
        ready = [n for n in deps if n not in order and deps[n] <= set(order)]
        if not ready:
            raise ValueError("references between tables form a cycle")
        order.extend(sorted(ready, key=[t.name for t in spec.tables].index))
    return order


def _check_references(
    frame: pl.DataFrame,
    plan: p.TablePlan,
    frames: dict[str, pl.DataFrame],
    plans: dict[str, p.TablePlan],
    spec: DatasetSpec,
) -> pl.DataFrame:
    for f in plan.fields:
        ref = f.references
        if ref is None:
            continue
        target = frames.get(ref.table)
        if target is None:
            keys = pl.Series([], dtype=pl.String)
        elif ref.part_of:
            keys = target[text_col(ref.field)]  # parts need their record to exist
        else:
            keys = target.filter(~pl.col("__rejected"))[text_col(ref.field)]
        msg = pl.col(p.msg_col(f.name))
        text = pl.col(text_col(f.name))
        broken = (
            msg.is_null() & text.is_not_null() & ~text.is_in(keys.drop_nulls().unique().implode())
        )
        frame = frame.with_columns(
            pl.when(broken)
            .then(pl.lit(p.code_index(f, ref.code), dtype=pl.UInt8))
            .otherwise(msg)
            .alias(p.msg_col(f.name))
        )
    return frame.with_columns(rejected_flag(plan).alias("__rejected"))


def _settle_parts(
    spec: DatasetSpec, plans: dict[str, p.TablePlan], frames: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """A rejected part rejects its record; a rejected record takes its parts along."""
    for t in spec.tables:
        for f in t.fields:
            ref = f.references
            if ref is None or not ref.part_of or ref.table not in frames:
                continue
            parts, parent = frames[t.name], frames[ref.table]
            bad = parts.filter(pl.col("__rejected"))[text_col(f.name)].drop_nulls().unique()
            parent = parent.with_columns(
                (pl.col("__rejected") | pl.col(text_col(ref.field)).is_in(bad.implode())).alias(
                    "__rejected"
                )
            )
            good = parent.filter(~pl.col("__rejected"))[text_col(ref.field)].drop_nulls().unique()
            parts = parts.with_columns(
                (pl.col("__rejected") | ~pl.col(text_col(f.name)).is_in(good.implode())).alias(
                    "__rejected"
                )
            )
            frames[t.name], frames[ref.table] = parts, parent
    return frames


def _without_a_rejected_single_row(
    spec: DatasetSpec, frames: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """A table of exactly one row (the practice) holds what every record is stored with: when
    that row is rejected, no record of the file can be kept, so all are rejected with it (its
    own message says why) instead of the registry failing to store them."""
    for t in spec.tables:
        frame = frames.get(t.name)
        if (
            t.rows == "one"
            and frame is not None
            and frame.height == 1
            and bool(frame["__rejected"][0])
        ):
            return {
                name: f.with_columns(pl.lit(True).alias("__rejected")) for name, f in frames.items()
            }
    return frames
