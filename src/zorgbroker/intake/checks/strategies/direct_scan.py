"""Checking a plain CSV file as one Polars query over the whole file (see readers/direct.py),
streamed in batches: the batched check's report, at a fraction of its cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from zorgbroker.intake.api import ROW
from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks.accepted_rows import accepted_query, pseudonymised
from zorgbroker.intake.checks.context import CheckOptions, CheckOutcome, build_report, rule_context
from zorgbroker.intake.checks.evaluation import (
    date_fields,
    message_flag,
    numbered,
    prepare,
    rejected_flag,
    rule_exprs,
)
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.checks.record_messages import extract_messages, message_columns
from zorgbroker.intake.checks.repeated_rows import report_repeated_rows, row_hash
from zorgbroker.intake.checks.structure import match_header, renamed
from zorgbroker.intake.readers.base import Upload
from zorgbroker.intake.spec.model import DatasetSpec

if TYPE_CHECKING:
    from zorgbroker.intake.readers.direct import DirectScan

POLARS_FAILURES = (pl.exceptions.PolarsError, pl.exceptions.PanicException)


#: Rows whose date values decide a file's date format.
_DATE_SAMPLE_ROWS = 10_000


#: Rows the direct scan hands back at a time. The rows are only kept where they have messages
#: (or are to be imported), but the check holds a few batches in flight: smaller batches mean
#: fewer fresh pages to fault in (a lower peak and a shorter run), while a hand-over stays cheap.
_DIRECT_BATCH_ROWS = 50_000


def check_by_direct_scan(
    upload: Upload,
    direct: DirectScan,
    spec: DatasetSpec,
    plans: dict[str, p.TablePlan],
    options: CheckOptions,
    messages: Messages,
) -> CheckOutcome:
    """The streaming check as one Polars query over the whole file (see readers/direct.py).

    It gives the same report as `check_in_batches`: the same record numbers, the same trailing
    blank rows left out, the same repeated-row count.
    """
    table = spec.main_table
    plan = plans[table.name]
    ctx = rule_context(plan, options)
    raw = direct.scan()
    header = direct.header
    sample = renamed(direct.sample(_DATE_SAMPLE_ROWS), table)
    date_format = p.detect_date_format(sample, date_fields(table))
    mapping = match_header(header, table)
    cells = _blank_cells(header, padded=direct.padded)
    source = numbered(raw, 1).select(
        pl.col(ROW),
        row_hash(cells).alias("__hash"),
        pl.all_horizontal(cell.is_null() for cell in cells).alias("__blank"),
        *(pl.col(col).alias(name) for col, name in mapping.items()),
    )
    evaluated = (
        prepare(
            plan, source, date_format, spec, ctx, padded=direct.padded, keep=["__hash", "__blank"]
        )
        .with_columns(rule_exprs(plan, ctx))
        .with_columns(rejected_flag(plan).alias("__rejected"), message_flag(plan).alias("__any"))
    )
    found: list[pl.DataFrame] = []
    states: list[pl.DataFrame] = []
    accepted: list[pl.DataFrame] = []
    rows_done = 0
    state_columns = [ROW, "__hash", "__blank", "__rejected"]
    if not options.collect_accepted:
        # Only what the messages need (masking the texts of rows without one saved nothing).
        shown = [name for name in message_columns(plan) if name != ROW]
        evaluated = evaluated.select(*state_columns, "__any", *shown)
    for batch in evaluated.collect_batches(chunk_size=_DIRECT_BATCH_ROWS, engine="streaming"):
        states.append(batch.select(state_columns))
        found.append(batch.filter(pl.col("__any")))
        if options.collect_accepted:
            keep = accepted_query(batch.lazy().filter(~pl.col("__rejected")), plan, ctx)
            accepted.append(keep.collect())
        rows_done += batch.height
        if options.progress is not None:
            # Rows times the first block's average line length: an estimate until the end.
            done = min(direct.size, int(rows_done * direct.line_bytes))
            options.progress(done, upload.progress_total)
    if options.progress is not None:
        options.progress(direct.size, upload.progress_total)
    state = pl.concat(states) if states else pl.DataFrame()
    # Blank rows after the last filled one are no records (as TrailingBlankRows does).
    last = state.select(pl.col(ROW).filter(~pl.col("__blank")).max()).item() if states else None
    records = int(last) if last is not None else 0
    if records == 0:
        messages.file("BF-005")
        return CheckOutcome(build_report(spec, options, upload.info, messages, 0, 0))
    state = state.head(records)
    with_messages = pl.concat(found).filter(pl.col(ROW) <= records)
    messages.add_table(table.name, extract_messages(with_messages, plan, spec, None))
    report_repeated_rows([state["__hash"]], messages, None)
    rejected = int(state["__rejected"].sum())
    report = build_report(spec, options, upload.info, messages, records, rejected)
    if not options.collect_accepted:
        return CheckOutcome(report)
    kept = pl.concat(accepted).filter(pl.col(ROW) <= records)
    return CheckOutcome(report, {table.name: pseudonymised(kept, plan, options)})


def _blank_cells(columns: list[str], *, padded: bool) -> list[pl.Expr]:
    """The raw cells as the batch reader gives them: a cell of only white space is null."""
    if not padded:
        return [pl.col(col) for col in columns]
    return [
        pl.when(pl.col(col).str.strip_chars().str.len_bytes() > 0).then(pl.col(col))
        for col in columns
    ]
