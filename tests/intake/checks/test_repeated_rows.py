"""Repeated rows (BW-003): every row that has a twin counts, across batches too."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.api import load_dataset
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.checks.repeated_rows import report_repeated_rows, row_hashes

SPEC = load_dataset("parabench-mi")


def test_twins_in_different_batches_are_counted() -> None:
    first = pl.DataFrame({"a": ["1", "2", "1"], "b": ["x", "y", "x"]})
    second = pl.DataFrame({"a": ["3", "1"], "b": ["z", "x"]})
    messages = Messages(SPEC)
    report_repeated_rows([row_hashes(first), row_hashes(second)], messages, None)
    frame = messages.frame([])
    assert frame.select("code", "value").rows() == [("BW-003", "3 rijen")]


def test_the_same_cells_in_other_columns_are_no_twin() -> None:
    frame = pl.DataFrame({"a": ["1", "2"], "b": ["2", "1"]})
    messages = Messages(SPEC)
    report_repeated_rows([row_hashes(frame)], messages, None)
    report_repeated_rows([], messages, None)
    assert messages.frame([]).height == 0
