"""The engine raises exactly the faults the generator seeded, and nothing on a clean file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.intake.conftest import TODAY
from zorgbroker.intake.generate import generate
from zorgbroker.intake.service import check_file

CASES = [("nhr-pmicd", "csv", 5000), ("nivel-fysio", "zip", 800), ("parabench-mi", "csv", 4)]


def _found(report: object) -> set[tuple[object, ...]]:
    rows = report.messages.select("table", "record", "field", "code").rows()  # type: ignore[attr-defined]
    return set(rows)


@pytest.mark.parametrize(("dataset", "ext", "rows"), CASES)
def test_clean_file_raises_nothing(tmp_path: Path, dataset: str, ext: str, rows: int) -> None:
    made = generate(dataset, rows=rows, out=tmp_path / f"clean.{ext}", seed=11, today=TODAY)
    report = check_file(made.path, dataset, organisation=made.organisation, today=TODAY).report
    assert report.messages.height == 0, report.messages.head(10)
    assert (report.records, report.accepted) == (made.rows, made.rows)


@pytest.mark.parametrize(("dataset", "ext", "rows"), CASES)
@pytest.mark.parametrize("seed", [1, 2])
def test_seeded_faults_are_found_exactly(
    tmp_path: Path, dataset: str, ext: str, rows: int, seed: int
) -> None:
    made = generate(
        dataset, rows=rows, out=tmp_path / f"f.{ext}", error_rate=0.3, seed=seed, today=TODAY
    )
    report = check_file(made.path, dataset, organisation=made.organisation, today=TODAY).report
    expected = {(e.table, e.record, e.field, e.code) for e in made.expected}
    assert expected, "the generator seeded no faults"
    assert _found(report) == expected
