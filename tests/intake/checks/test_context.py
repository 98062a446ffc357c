"""The report a run builds from its messages: a file rejection rejects every record."""

from __future__ import annotations

import datetime as dt

from zorgbroker.intake.api import CheckOptions, FileInfo, load_dataset
from zorgbroker.intake.checks.context import build_report
from zorgbroker.intake.checks.messages import Messages

SPEC = load_dataset("parabench-mi")
INFO = FileInfo("f.csv", "0" * 64, 10, "csv", "utf-8")
OPTIONS = CheckOptions(today=dt.date(2026, 11, 22), mode="production")


def test_the_report_counts_what_the_strategy_found() -> None:
    messages = Messages(SPEC)
    messages.file("BW-001", value="extra")
    report = build_report(SPEC, OPTIONS, INFO, messages, 10, 3)
    assert (report.records, report.rejected, report.accepted) == (10, 3, 7)
    assert not report.file_rejected
    assert report.mode == "production"
    assert report.code_texts == {"BW-001": "Extra kolommen genegeerd"}
    assert report.stored is None
    assert report.pseudonymisation == {}


def test_a_file_rejection_rejects_every_record() -> None:
    messages = Messages(SPEC)
    messages.file("BF-005")
    report = build_report(SPEC, OPTIONS, INFO, messages, 10, 3)
    assert report.file_rejected
    assert (report.rejected, report.accepted) == (10, 0)
