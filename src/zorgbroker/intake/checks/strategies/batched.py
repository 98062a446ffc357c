"""Checking a single table batch by batch, as its reader hands the batches over: memory stays
bounded however large the file, for tables whose checks look at one record at a time."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.checks import plan as p
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
    message_flag,
    numbered,
    prepare,
    rejected_flag,
    rule_exprs,
)
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.checks.record_messages import extract_messages
from zorgbroker.intake.checks.repeated_rows import report_repeated_rows, row_hashes
from zorgbroker.intake.checks.structure import renamed
from zorgbroker.intake.readers.base import Upload
from zorgbroker.intake.spec.model import DatasetSpec


def check_in_batches(
    upload: Upload,
    spec: DatasetSpec,
    plans: dict[str, p.TablePlan],
    options: CheckOptions,
    messages: Messages,
) -> CheckOutcome:
    table = spec.main_table
    plan = plans[table.name]
    source = upload.tables["main"]
    ctx = rule_context(plan, options)
    records = rejected = 0
    date_format: str | None = None
    hashes: list[pl.Series] = []
    accepted: list[pl.DataFrame] = []
    for raw in read_batches(source, upload, options):
        if plan.carried is None:  # a stage-1 file's repeated rows are the source's finding
            hashes.append(row_hashes(raw))
        batch = renamed(raw, table, keep=carried_columns(plan))
        if date_format is None:
            date_format = evaluation_date_format(plan, batch)
        evaluated = (
            prepare(plan, numbered(batch, records + 1), date_format, spec, ctx)
            .with_columns(rule_exprs(plan, ctx))
            .with_columns(
                rejected_flag(plan).alias("__rejected"), message_flag(plan).alias("__any")
            )
        )
        # A check only needs the records that have messages (rejected ones always do); the wide
        # frame of every record is materialised only when the registry wants the accepted rows.
        queries = [evaluated.filter(pl.col("__any"))]
        if options.collect_accepted:
            queries.append(accepted_query(evaluated.filter(~pl.col("__rejected")), plan, ctx))
        results = pl.collect_all(queries)
        with_messages = results[0]
        messages.add_table(table.name, extract_messages(with_messages, plan, spec, None))
        rejected += int(with_messages["__rejected"].sum())
        records += batch.height
        if options.collect_accepted:
            accepted.append(pseudonymised(results[1], plan, options))
    if records == 0:
        messages.file("BF-005")
        return CheckOutcome(build_report(spec, options, upload.info, messages, 0, 0))
    report_repeated_rows(hashes, messages, None)
    report = build_report(spec, options, upload.info, messages, records, rejected)
    out = {table.name: pl.concat(accepted)} if accepted else {}
    return CheckOutcome(report, out)
