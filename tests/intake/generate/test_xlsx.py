"""Generated Excel workbooks: the same cells as the CSV, and the check finds the same messages."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import polars as pl
import pytest
from python_calamine import CalamineWorkbook

from tests.intake.generate.conftest import TODAY, read_csv, read_zip
from tests.intake.generate.test_cli import run
from zorgbroker.intake.generate import Generated, generate, workbook
from zorgbroker.intake.report.model import Report
from zorgbroker.intake.service import check_file

NIVEL_TABLES = ["praktijk", "therapeuten", "patienten", "episodes", "verrichtingen"]
#: dataset, usual extension, rows, the workbook's sheets.
CASES = [
    ("nhr-pmicd", "csv", 400, ["nhr-pmicd"]),
    ("nivel-fysio", "zip", 150, NIVEL_TABLES),
    ("parabench-mi", "csv", 4, ["parabench-mi"]),
]
Pair = tuple[Generated, Generated]


def _make(dataset: str, rows: int, out: Path) -> Generated:
    return generate(dataset, rows=rows, out=out, error_rate=0.5, seed=7, today=TODAY)


def _check(made: Generated, dataset: str) -> Report:
    return check_file(made.path, dataset, organisation=made.organisation, today=TODAY).report


def _tables(path: Path, dataset: str) -> dict[str, pl.DataFrame]:
    return read_zip(path) if zipfile.is_zipfile(path) else {dataset: read_csv(path)}


def _as_rows(frame: pl.DataFrame) -> list[list[str]]:
    """Header and rows as a sheet shows them: an empty CSV field is an empty cell."""
    rows = [["" if cell is None else cell for cell in row] for row in frame.iter_rows()]
    return [frame.columns, *rows]


@pytest.fixture(scope="module", params=CASES, ids=[case[0] for case in CASES])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[str], Pair]:
    dataset, ext, rows, sheets = request.param
    folder = tmp_path_factory.mktemp(dataset)
    usual = _make(dataset, rows, folder / f"export.{ext}")
    excel = _make(dataset, rows, folder / "export.xlsx")
    return dataset, sheets, (usual, excel)


def test_the_check_finds_the_same_messages_in_the_workbook_as_in_the_csv(
    pair: tuple[str, list[str], Pair],
) -> None:
    dataset, _, (usual, excel) = pair
    assert excel.path.name == "export.xlsx"
    assert excel.expected == usual.expected
    expected = [(e.table, e.record, e.field, e.code) for e in excel.expected]
    assert expected, "the generator seeded no faults"
    from_csv, from_xlsx = _check(usual, dataset), _check(excel, dataset)
    assert from_xlsx.file.format == "xlsx"
    assert from_csv.file.format == usual.path.suffix.removeprefix(".")
    assert from_xlsx.messages.equals(from_csv.messages)
    found = from_xlsx.messages.select("table", "record", "field", "code").rows()
    assert sorted(found, key=repr) == sorted(expected, key=repr)
    assert (from_xlsx.records, from_xlsx.accepted) == (from_csv.records, from_csv.accepted)


def test_each_table_is_a_sheet_of_text_cells_exactly_as_in_the_csv(
    pair: tuple[str, list[str], Pair],
) -> None:
    dataset, sheets, (usual, excel) = pair
    book = CalamineWorkbook.from_path(str(excel.path))
    assert book.sheet_names == sheets
    for name, frame in _tables(usual.path, dataset).items():
        # Equal lists of str: a cell Excel stored as a number (8.0) or a date would differ.
        assert book.get_sheet_by_name(name).to_python() == _as_rows(frame), name


def test_the_command_line_writes_a_workbook_for_an_upper_case_suffix(tmp_path: Path) -> None:
    target = tmp_path / "PB.XLSX"
    code, output = run(
        "parabench-mi", "--rows", "4", "--error-rate", "1", "--output", str(target),
        "--expected", "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert code == 0, output
    assert CalamineWorkbook.from_path(str(target)).sheet_names == ["parabench-mi"]
    document = json.loads((tmp_path / "PB.XLSX.expected.json").read_text(encoding="utf-8"))
    assert document["file"] == "PB.XLSX"
    assert document["expected"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["PB.XLSX", "PB.XLSX.expected.json"]


def test_a_table_longer_than_a_sheet_is_a_usage_error_that_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workbook, "SHEET_ROWS", 60)
    # 20 episodes (21 rows with the header) fit; their 3-15 treatments each do not.
    code, output = run(
        "nivel-fysio", "--rows", "20", "--output", str(tmp_path / "fysio.xlsx"),
        "--expected", "--today", TODAY.isoformat(),
    )  # fmt: skip
    assert code == 2
    assert "Fout: Werkblad 'verrichtingen'" in output
    assert "hooguit 60" in output
    assert "Traceback" not in output
    assert list(tmp_path.iterdir()) == []


def test_the_header_counts_towards_the_sheet_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workbook, "SHEET_ROWS", 60)
    fits = generate("nhr-pmicd", rows=59, out=tmp_path / "fits.xlsx", today=TODAY)
    assert CalamineWorkbook.from_path(str(fits.path)).get_sheet_by_name("nhr-pmicd").height == 60
    with pytest.raises(ValueError, match="61 rijen"):
        generate("nhr-pmicd", rows=60, out=tmp_path / "too-long.xlsx", today=TODAY)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fits.xlsx"]


@pytest.mark.parametrize(
    ("dataset", "name"), [("parabench-mi", "export.txt"), ("nivel-fysio", "fysio.csv")]
)
def test_other_suffixes_keep_the_usual_format(tmp_path: Path, dataset: str, name: str) -> None:
    made = generate(dataset, rows=4, out=tmp_path / name, today=TODAY)
    assert made.path == tmp_path / name
    if dataset == "nivel-fysio":
        assert list(read_zip(made.path)) == NIVEL_TABLES
    else:
        assert read_csv(made.path).height == 4
