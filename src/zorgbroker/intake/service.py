"""The intake check as one call: file in, report out (used by the CLI, the registry and tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from zorgbroker.intake.checks.context import CheckOptions, CheckOutcome, Progress
from zorgbroker.intake.checks.run import check_upload
from zorgbroker.intake.readers.base import Limits
from zorgbroker.intake.spec import load_dataset
from zorgbroker.logging import get_logger

log = get_logger(__name__)


def check_file(
    path: Path,
    dataset: str,
    *,
    organisation: str | None = None,
    today: dt.date | None = None,
    limits: Limits | None = None,
    progress: Progress | None = None,
    display_name: str | None = None,
) -> CheckOutcome:
    """A test upload: every check, nothing stored, identifying fields never kept."""
    spec = load_dataset(dataset)
    options = CheckOptions(
        today=today or dt.date.today(),
        organisation=organisation,
        mode="test",
        limits=limits or Limits(),
        progress=progress,
    )
    outcome = check_upload(path, spec, options, display_name=display_name)
    report = outcome.report
    # Counts and codes only: a log line never carries a value from the file.
    log.info(
        "check.done",
        dataset=dataset,
        records=report.records,
        accepted=report.accepted,
        file_rejected=report.file_rejected,
        messages=report.messages.height,
    )
    return outcome
