"""What a check run is given and gives back, and what its strategies share: the options, the
outcome, the rule context of a table, reading a table with progress, and the report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import polars as pl

from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.readers.base import Limits, Table, Upload
from zorgbroker.intake.report.model import FileInfo, Mode, Report
from zorgbroker.intake.spec.model import DatasetSpec

#: Called with (table, field, normalised values) for fields whose role is `pseudonymise`.
Pseudonymise = Callable[[str, str, pl.Series], pl.Series]


#: For a stage-1 file: called with (table, field, stage-1 pseudonyms, sealed values or None) for
#: fields whose role is `pseudonymise`; gives the final pseudonyms (the TTP's stage 2).
Relay = Callable[[str, str, pl.Series, pl.Series | None], pl.Series]

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
    relay: Relay | None = None
    progress: Progress | None = None


@dataclass
class CheckOutcome:
    report: Report
    #: Accepted records per table: typed values, identifying fields pseudonymised/reduced/dropped,
    #: derived fields added, and `__row` (the record number). Empty unless collect_accepted.
    accepted: dict[str, pl.DataFrame] = field(default_factory=dict)


def rule_context(plan: p.TablePlan, options: CheckOptions) -> rl.Context:
    return p.context_for(plan, today=options.today, organisation=options.organisation)


def read_batches(source: Table, upload: Upload, options: CheckOptions) -> Iterator[pl.DataFrame]:
    for batch in source.batches():
        yield batch
        if options.progress is not None:
            options.progress(int(getattr(source, "bytes_read", 0)), upload.progress_total)


def build_report(
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
    return Report.from_check(
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
