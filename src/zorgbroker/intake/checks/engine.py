"""The check engine: runs a dataset's plans over an upload and produces the quality report.

Single tables whose checks are row-local are streamed batch by batch, so memory stays bounded
however large the file. Tables whose checks compare rows (uniqueness, references, rules over the
whole file) are checked whole; in the shipped datasets those are small.

Phases for a table: text (normalised) and typed values; field messages (one per field at most);
rules (skipped for a record where a field they read already has a message, so one mistake gives
one message); references between tables; then the record's fate (a rejected part rejects its
record, a rejected record takes its parts along).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.readers.base import Limits, ReadError, Table, Upload
from zorgbroker.intake.report.model import (
    MESSAGE_SCHEMA,
    REJECTING_CLASSES,
    FileInfo,
    Mode,
    Report,
    empty_messages,
)
from zorgbroker.intake.spec.model import DatasetSpec, TableSpec

if TYPE_CHECKING:
    from zorgbroker.intake.readers.direct import DirectScan

#: Called with (table, field, normalised values) for fields whose role is `pseudonymise`.
Pseudonymise = Callable[[str, str, pl.Series], pl.Series]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CheckOptions:
    today: dt.date
    organisation: str | None = None
    mode: Mode = "test"
    limits: Limits = field(default_factory=Limits)
    #: Keep the accepted records (typed, identifying fields reduced) for the registry's import.
    collect_accepted: bool = False
    pseudonymise: Pseudonymise | None = None
    progress: Progress | None = None


@dataclass
class CheckOutcome:
    report: Report
    #: Accepted records per table: typed values, identifying fields pseudonymised/reduced/dropped,
    #: derived fields added, and `__row` (the record number). Empty unless collect_accepted.
    accepted: dict[str, pl.DataFrame] = field(default_factory=dict)


text_col = p.text_col


# --- messages ------------------------------------------------------------------------------------


class Messages:
    """Collects message frames in report order and turns codes into their Dutch texts."""

    def __init__(self, spec: DatasetSpec) -> None:
        self.spec = spec
        self.file_level: list[pl.DataFrame] = []
        self.tables: dict[str, list[pl.DataFrame]] = {}

    def file(
        self,
        code: str,
        *,
        table: str | None = None,
        field: str | None = None,
        value: str | None = None,
        text: str | None = None,
    ) -> None:
        """`text` replaces the code's text: a reader's explanation of what is wrong."""
        frame = _message_frame([(table, None, field, code, value)], self.spec)
        if text is not None:
            frame = frame.with_columns(pl.lit(text, dtype=pl.String).alias("message"))
        self.file_level.append(frame)

    def add_table(self, table: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self.tables.setdefault(table, []).append(frame)

    def has_file_rejection(self) -> bool:
        return any(f["class"].eq("BF").any() for f in self.file_level)

    def frame(self, table_order: list[str]) -> pl.DataFrame:
        parts = list(self.file_level)
        for name in table_order:
            parts.extend(self.tables.get(name, []))
        if not parts:
            return empty_messages()
        return pl.concat(parts, how="vertical")


def _message_frame(
    rows: list[tuple[str | None, int | None, str | None, str, str | None]], spec: DatasetSpec
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "table": [r[0] for r in rows],
            "record": [r[1] for r in rows],
            "field": [r[2] for r in rows],
            "code": [r[3] for r in rows],
            "value": [r[4] for r in rows],
        },
        schema={k: MESSAGE_SCHEMA[k] for k in ("table", "record", "field", "code", "value")},
    )
    return _finish(frame, spec)


def _finish(frame: pl.DataFrame, spec: DatasetSpec) -> pl.DataFrame:
    """Add class and Dutch text to (table, record, field, code, value) rows, in contract order."""
    texts = {code: m.nl for code, m in spec.messages.items()}
    return frame.with_columns(
        pl.col("code").str.extract(r"^([A-Z]+)-", 1).alias("class"),
        pl.col("code").replace_strict(texts, default="", return_dtype=pl.String).alias("message"),
    ).select(list(MESSAGE_SCHEMA))


# --- evaluation of one table (or one batch of it) ------------------------------------------------


def numbered(frame: pl.DataFrame | pl.LazyFrame, first: int) -> pl.LazyFrame:
    """The frame with each record's number (counted from `first`) in p.ROW."""
    return (
        frame.lazy().with_row_index(p.ROW, offset=first).with_columns(pl.col(p.ROW).cast(pl.Int64))
    )


def texts(
    plan: p.TablePlan, frame: pl.LazyFrame, spec: DatasetSpec, *, padded: bool, keep: list[str]
) -> pl.LazyFrame:
    """The record number, the `keep` columns and each field's normalised text."""
    present = set(frame.collect_schema().names())
    out = frame.select(pl.col(p.ROW), *keep, *p.text_exprs(plan.fields, present, padded=padded))
    more = p.normalise_exprs(plan.fields, spec)
    return out.with_columns(more) if more else out


def field_exprs(plan: p.TablePlan, spec: DatasetSpec, ctx: rl.Context) -> list[pl.Expr]:
    exprs = []
    for f in plan.fields:
        required_when = None
        if f.name in plan.required_when:
            required_when = rl.compile_condition(plan.required_when[f.name], ctx)
        exprs.append(p.field_message_expr(f, spec, required_when))
    return exprs


def rule_exprs(plan: p.TablePlan, ctx: rl.Context) -> list[pl.Expr]:
    exprs = []
    for rule in plan.rules:
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


def shown_fields(plan: p.TablePlan) -> set[str]:
    """The fields whose value a message may repeat: never an identifying one."""
    return {f.name for f in plan.fields if not f.identifying}


def message_columns(plan: p.TablePlan) -> list[str]:
    """The columns `extract_messages` reads: the record number, each field's message, each
    record rule's outcome, and the text of the fields whose value a message may show."""
    shown = shown_fields(plan)
    record_rules = [r for r in plan.rules if r.scope == "record"]
    names = [p.ROW, *(p.msg_col(f.name) for f in plan.fields)]
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
                pl.col(p.ROW).alias("record"),
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
                pl.col(p.ROW).alias("record"),
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
    return _finish(out, spec)


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


# --- structure -----------------------------------------------------------------------------------


def match_header(header: list[str], table: TableSpec) -> dict[str, str]:
    """Map file column names onto specification names, ignoring case."""
    known = {f.name.lower(): f.name for f in table.fields}
    return {col: known[col.strip().lower()] for col in header if col.strip().lower() in known}


def structure_messages(
    header: list[str], table: TableSpec, messages: Messages, table_key: str | None
) -> bool:
    """Header checks; returns True when the table can be read on."""
    ok = True
    forbidden = [
        col
        for col in header
        if any(re.fullmatch(rx, col.strip(), flags=re.IGNORECASE) for rx in table.forbidden_columns)
    ]
    if forbidden and table.forbidden_code:
        for col in forbidden:
            messages.file(table.forbidden_code, table=table_key, value=col[:100])
        ok = False
    mapping = match_header(header, table)
    known = set(mapping.values())
    needed = [f.name for f in table.fields if f.needs_column]
    missing = [n for n in needed if n not in known]
    if missing:
        if len(known) < max(1, len(needed) // 2):
            messages.file("BF-004", table=table_key)
        else:
            for name in missing:
                messages.file("BF-003", table=table_key, field=name)
        ok = False
    extra = [col for col in header if col not in mapping and col not in forbidden]
    if extra:
        messages.file("BW-001", table=table_key, value=", ".join(c[:60] for c in extra)[:300])
    return ok


# --- the whole upload ----------------------------------------------------------------------------


def file_info_fallback(path: Path, display_name: str | None) -> FileInfo:
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError:
        pass
    return FileInfo(display_name or path.name, digest.hexdigest(), size, "unknown", None)


def check_upload(
    path: Path, spec: DatasetSpec, options: CheckOptions, display_name: str | None = None
) -> CheckOutcome:
    """Check one uploaded file against a dataset specification."""
    from zorgbroker.intake.spec.loader import check_plans

    plans = check_plans(spec)
    messages = Messages(spec)
    table_names = [t.name for t in spec.tables] if spec.multi_table else None
    from zorgbroker.intake.readers import open_upload

    try:
        upload = open_upload(
            path,
            tables=table_names,
            limits=options.limits,
            display_name=display_name,
            dataset=spec.dataset,
        )
    except ReadError as exc:
        info = getattr(exc, "info", None) or file_info_fallback(path, display_name)
        messages.file(exc.code, table=exc.table if spec.multi_table else None, text=exc.message)
        return CheckOutcome(_report(spec, options, info, messages, 0, 0))
    return check_tables(upload, spec, plans, options, messages)


def check_tables(
    upload: Upload,
    spec: DatasetSpec,
    plans: dict[str, p.TablePlan],
    options: CheckOptions,
    messages: Messages,
) -> CheckOutcome:
    multi = spec.multi_table
    for warning in upload.warnings:
        messages.file(warning.code, table=warning.table if multi else None, text=warning.message)
    key = (lambda name: name) if multi else (lambda name: None)
    if multi:
        for t in spec.tables:
            if t.name not in upload.tables and spec.missing_table_code:
                messages.file(spec.missing_table_code, table=t.name)
    readable = not messages.has_file_rejection()
    for t in spec.tables:
        source = upload.tables.get(t.name) if multi else upload.tables.get("main")
        if source is not None and readable:
            readable = structure_messages(source.header, t, messages, key(t.name)) and readable
    if not readable or messages.has_file_rejection():
        return CheckOutcome(_report(spec, options, upload.info, messages, 0, 0))
    try:
        if multi or any(plans[t.name].needs_whole_table for t in spec.tables):
            return _check_whole(upload, spec, plans, options, messages)
        direct = upload.tables["main"].direct
        if direct is not None:
            try:
                return _check_direct(upload, direct, spec, plans, options, messages)
            except _POLARS_FAILURES:
                # Something in the file (invalid UTF-8 far into it, say) that the batch reader
                # handles and names precisely; nothing of this attempt has been kept.
                pass
        return _check_streaming(upload, spec, plans, options, messages)
    except ReadError as exc:
        fresh = Messages(spec)
        fresh.file(exc.code, table=exc.table if multi else None, text=exc.message)
        return CheckOutcome(_report(spec, options, upload.info, fresh, 0, 0))


def _renamed(batch: pl.DataFrame, table: TableSpec) -> pl.DataFrame:
    mapping = match_header(batch.columns, table)
    return batch.select([pl.col(col).alias(name) for col, name in mapping.items()])


def _date_fields(table: TableSpec) -> list[str]:
    return [f.name for f in table.fields if f.type == "date"]


def _context(plan: p.TablePlan, options: CheckOptions) -> rl.Context:
    return p.context_for(plan, today=options.today, organisation=options.organisation)


def _check_streaming(
    upload: Upload,
    spec: DatasetSpec,
    plans: dict[str, p.TablePlan],
    options: CheckOptions,
    messages: Messages,
) -> CheckOutcome:
    table = spec.main_table
    plan = plans[table.name]
    source = upload.tables["main"]
    ctx = _context(plan, options)
    records = rejected = 0
    date_format: str | None = None
    hashes: list[pl.Series] = []
    accepted: list[pl.DataFrame] = []
    for raw in _batches(source, upload, options):
        hashes.append(_row_hashes(raw))
        batch = _renamed(raw, table)
        if date_format is None:
            date_format = p.detect_date_format(batch, _date_fields(table))
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
        return CheckOutcome(_report(spec, options, upload.info, messages, 0, 0))
    _duplicate_rows(hashes, messages, None)
    report = _report(spec, options, upload.info, messages, records, rejected)
    out = {table.name: pl.concat(accepted)} if accepted else {}
    return CheckOutcome(report, out)


_POLARS_FAILURES = (pl.exceptions.PolarsError, pl.exceptions.PanicException)
#: Rows whose date values decide a file's date format.
_DATE_SAMPLE_ROWS = 10_000
#: Rows the direct scan hands back at a time. The rows are only kept where they have messages
#: (or are to be imported), but the engine holds a few batches in flight: smaller batches mean
#: fewer fresh pages to fault in (1M rows: peak 760 -> 560 MiB, and 0.04 to 0.2 s less in
#: paired runs against 250,000), while each hand-over still costs only a millisecond or two.
_DIRECT_BATCH_ROWS = 50_000


def _check_direct(
    upload: Upload,
    direct: DirectScan,
    spec: DatasetSpec,
    plans: dict[str, p.TablePlan],
    options: CheckOptions,
    messages: Messages,
) -> CheckOutcome:
    """The streaming check as one Polars query over the whole file (see readers/direct.py).

    It gives the same report as `_check_streaming`: the same record numbers, the same trailing
    blank rows left out, the same repeated-row count.
    """
    table = spec.main_table
    plan = plans[table.name]
    ctx = _context(plan, options)
    raw = direct.scan()
    header = direct.header
    sample = _renamed(direct.sample(_DATE_SAMPLE_ROWS), table)
    date_format = p.detect_date_format(sample, _date_fields(table))
    mapping = match_header(header, table)
    cells = _blanked(header, padded=direct.padded)
    source = numbered(raw, 1).select(
        pl.col(p.ROW),
        _row_hash(cells).alias("__hash"),
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
    state_columns = [p.ROW, "__hash", "__blank", "__rejected"]
    if not options.collect_accepted:
        # Only what the messages need (masking the texts of rows without one saved nothing).
        shown = [name for name in message_columns(plan) if name != p.ROW]
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
    last = state.select(pl.col(p.ROW).filter(~pl.col("__blank")).max()).item() if states else None
    records = int(last) if last is not None else 0
    if records == 0:
        messages.file("BF-005")
        return CheckOutcome(_report(spec, options, upload.info, messages, 0, 0))
    state = state.head(records)
    with_messages = pl.concat(found).filter(pl.col(p.ROW) <= records)
    messages.add_table(table.name, extract_messages(with_messages, plan, spec, None))
    _duplicate_rows([state["__hash"]], messages, None)
    rejected = int(state["__rejected"].sum())
    report = _report(spec, options, upload.info, messages, records, rejected)
    if not options.collect_accepted:
        return CheckOutcome(report)
    kept = pl.concat(accepted).filter(pl.col(p.ROW) <= records)
    return CheckOutcome(report, {table.name: pseudonymised(kept, plan, options)})


def _blanked(columns: list[str], *, padded: bool) -> list[pl.Expr]:
    """The raw cells as the batch reader gives them: a cell of only white space is null."""
    if not padded:
        return [pl.col(col) for col in columns]
    return [
        pl.when(pl.col(col).str.strip_chars().str.len_bytes() > 0).then(pl.col(col))
        for col in columns
    ]


def _row_hash(cells: list[pl.Expr]) -> pl.Expr:
    """One hash of a row's cells: the cells' hashes, each seeded by its position, combined
    (several times cheaper than hashing a struct of them)."""
    hashes = [cell.hash(seed=k) for k, cell in enumerate(cells)]
    return functools.reduce(operator.xor, hashes)


def _row_hashes(raw: pl.DataFrame) -> pl.Series:
    return raw.select(_row_hash([pl.col(col) for col in raw.columns])).to_series()


def _batches(source: Table, upload: Upload, options: CheckOptions) -> Iterator[pl.DataFrame]:
    for batch in source.batches():
        yield batch
        if options.progress is not None:
            options.progress(int(getattr(source, "bytes_read", 0)), upload.progress_total)


def _duplicate_rows(hashes: list[pl.Series], messages: Messages, table: str | None) -> None:
    if not hashes:
        return
    # Rows whose hash equals a neighbour's once sorted: is_duplicated(), at half the cost.
    ordered = pl.concat(hashes).sort()
    same = ordered == ordered.shift(1)
    repeated = int((same | same.shift(-1)).fill_null(False).sum())
    if repeated:
        messages.file("BW-003", table=table, value=f"{repeated} rijen")


def _check_whole(
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
        raws = list(_batches(source, upload, options))
        raw = (
            pl.concat(raws) if raws else pl.DataFrame(schema={c: pl.String for c in source.header})
        )
        _duplicate_rows(
            [_row_hashes(raw)] if raw.height else [], messages, t.name if multi else None
        )
        batch = _renamed(raw, t)
        date_format = p.detect_date_format(batch, _date_fields(t))
        ctx = _context(plans[t.name], options)
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
        return CheckOutcome(_report(spec, options, upload.info, messages, 0, 0))
    if messages.has_file_rejection():
        return CheckOutcome(
            _report(spec, options, upload.info, messages, frames[main.name].height, 0)
        )
    # Phase B: rules, with columns from other tables joined in where rules reach for them.
    for t in spec.tables:
        plan = plans[t.name]
        frame = _with_lookups(frames[t.name], plan, spec, frames, plans, options)
        rules = rule_exprs(plan, _context(plan, options))
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
            rows = accepted_query(keep, plan, _context(plan, options)).collect()
            accepted[t.name] = pseudonymised(rows, plan, options)
    return CheckOutcome(_report(spec, options, upload.info, messages, records, rejected), accepted)


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
        ctx = _context(child_plan, options)
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


def accepted_query(frame: pl.LazyFrame, plan: p.TablePlan, ctx: rl.Context) -> pl.LazyFrame:
    """What the registry may keep of accepted records: never a BSN, a name or a birth date.

    Fields to pseudonymise keep their normalised text under text_col(name) until
    `pseudonymised` replaces it; every other identifying field is reduced or dropped here.
    """
    derived = [rl.compile_expr(node, ctx).alias(name) for name, node in plan.derive.items()]
    frame = frame.with_columns(derived) if derived else frame
    columns: list[pl.Expr] = [pl.col(p.ROW)]
    for f in plan.fields:
        match f.identifying:
            case None:
                columns.append(pl.col(f.name))
            case "year":
                columns.append(pl.col(f.name).dt.year().alias(f.name))
            case "postcode4":
                columns.append(pl.col(text_col(f.name)).str.slice(0, 4).alias(f.name))
            case "pseudonymise":
                columns.append(pl.col(text_col(f.name)))
            case "drop":
                pass
    columns += [pl.col(name) for name in plan.derive]
    return frame.select(columns)


def pseudonymised(frame: pl.DataFrame, plan: p.TablePlan, options: CheckOptions) -> pl.DataFrame:
    """Replace the text of each field to pseudonymise by its pseudonym (or drop it: a test check
    has no pseudonymiser, and then the identifier is simply not kept)."""
    for f in plan.fields:
        if f.identifying != "pseudonymise":
            continue
        values = frame[text_col(f.name)]
        frame = frame.drop(text_col(f.name))
        if options.pseudonymise is not None:
            frame = frame.with_columns(
                options.pseudonymise(plan.table.name, f.name, values).alias(f.name)
            )
    return frame


def _report(
    spec: DatasetSpec,
    options: CheckOptions,
    info: FileInfo,
    messages: Messages,
    records: int,
    rejected: int,
) -> Report:
    frame = messages.frame([t.name for t in spec.tables])
    file_rejected = bool(frame["class"].eq("BF").any()) if frame.height else False
    codes = frame["code"].unique().to_list() if frame.height else []
    return Report(
        dataset=spec.dataset,
        dataset_version=spec.version,
        mode=options.mode,
        file=info,
        records=records,
        rejected=records if file_rejected else rejected,
        file_rejected=file_rejected,
        messages=frame,
        code_texts={c: spec.text(c) for c in sorted(codes)},
        multi_table=spec.multi_table,
    )
