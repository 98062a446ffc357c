"""The batched check numbers records and finds repeated rows across batches."""

from __future__ import annotations

from pathlib import Path

from tests.intake.conftest import TODAY
from zorgbroker.intake.api import CheckOptions, generate, load_dataset, open_upload
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.checks.strategies.batched import check_in_batches
from zorgbroker.intake.spec.loader import check_plans

SPEC = load_dataset("nhr-pmicd")


def test_record_numbers_and_twins_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "nhr.csv"
    generate("nhr-pmicd", rows=400, out=path, today=TODAY, organisation="01234567")
    header, *lines = path.read_text().splitlines()
    column = header.split(";").index("geslacht")
    cells = lines[349].split(";")
    cells[column] = "Q"  # record 350
    lines[349] = ";".join(cells)
    path.write_text("\n".join([header, *lines, lines[0]]) + "\n")
    upload = open_upload(path, chunk_bytes=4096)
    options = CheckOptions(today=TODAY, organisation="01234567")
    outcome = check_in_batches(upload, SPEC, check_plans(SPEC), options, Messages(SPEC))
    report = outcome.report
    assert report.records == 401
    assert report.messages.select("record", "field", "code").rows() == [
        (None, None, "BW-003"),
        (350, "geslacht", "F-003"),
    ]
    assert report.messages["value"][0] == "2 rijen"
