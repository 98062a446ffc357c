"""A check run: open the upload, check its structure, then check its records in the way the
dataset and the file allow (see `strategies`), and produce the quality report."""

from __future__ import annotations

import hashlib
from pathlib import Path

from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks.carried import Stage1Input, Stage1Table, carried_plans
from zorgbroker.intake.checks.context import CheckOptions, CheckOutcome, build_report
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.checks.strategies.batched import check_in_batches
from zorgbroker.intake.checks.strategies.direct_scan import POLARS_FAILURES, check_by_direct_scan
from zorgbroker.intake.checks.strategies.whole_tables import check_whole_tables
from zorgbroker.intake.checks.structure import structure_messages
from zorgbroker.intake.readers.base import ReadError, Table, Upload
from zorgbroker.intake.report.model import FileInfo
from zorgbroker.intake.spec.model import DatasetSpec


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
        return CheckOutcome(build_report(spec, options, info, messages, 0, 0))
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
        return CheckOutcome(build_report(spec, options, upload.info, messages, 0, 0))
    try:
        if multi or any(plans[t.name].needs_whole_table for t in spec.tables):
            return check_whole_tables(upload, spec, plans, options, messages)
        direct = upload.tables["main"].direct
        if direct is not None:
            try:
                return check_by_direct_scan(upload, direct, spec, plans, options, messages)
            except POLARS_FAILURES:
                # Something in the file (invalid UTF-8 far into it, say) that the batch reader
                # handles and names precisely; nothing of this attempt has been kept.
                pass
        return check_in_batches(upload, spec, plans, options, messages)
    except ReadError as exc:
        fresh = Messages(spec)
        fresh.file(exc.code, table=exc.table if multi else None, text=exc.message)
        return CheckOutcome(build_report(spec, options, upload.info, fresh, 0, 0))


def check_stage1(spec: DatasetSpec, stage1: Stage1Input, options: CheckOptions) -> CheckOutcome:
    """The registry's check of a stage-1 file (see `checks.carried`): the source's file-level
    messages first, then the registry's checks with the source's findings per row, so the report
    is the one a check of the raw export gives. The caller has checked the file and its manifest
    (`pseudonymisation.stage1_reader`); a refused export reports its messages only."""
    from zorgbroker.intake.spec.loader import check_plans

    messages = Messages(spec)
    for code, table, field, value, text in stage1.file_messages:
        messages.file(code, table=table, field=field, value=value, text=text)
    if stage1.refused:
        return CheckOutcome(build_report(spec, options, stage1.file, messages, stage1.records, 0))
    plans = carried_plans(spec, check_plans(spec), stage1)
    multi = spec.multi_table
    tables: dict[str, Table] = {
        (name if multi else "main"): Stage1Table(name, path, options.limits.batch_rows)
        for name, path in stage1.members.items()
    }
    upload = Upload(
        info=stage1.file,
        tables=tables,
        progress_total=sum(table.bytes_total for table in tables.values()),
    )
    if multi or any(plans[t.name].needs_whole_table for t in spec.tables):
        return check_whole_tables(upload, spec, plans, options, messages)
    return check_in_batches(upload, spec, plans, options, messages)


def refusal(
    spec: DatasetSpec, options: CheckOptions, info: FileInfo, code: str, detail: str | None
) -> CheckOutcome:
    """The outcome of a file refused before any check (a BF code with a detail that names no
    value), e.g. a raw export sent where the registry takes only stage-1 files."""
    messages = Messages(spec)
    messages.file(code, value=detail)
    return CheckOutcome(build_report(spec, options, info, messages, 0, 0))
