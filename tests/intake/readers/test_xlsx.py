"""Excel workbooks: cells as a person sees them, formulas, sheets per table, hostile grids."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from tests.intake.readers.conftest import open_and_read, read_error, read_table, rows
from zorgbroker.intake.readers import Limits, open_upload


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = xlsxwriter.Workbook(str(path))
    date_format = book.add_format({"num_format": "dd-mm-yyyy"})
    for name, table in sheets.items():
        sheet = book.add_worksheet(name)
        for r, line in enumerate(table):
            for c, value in enumerate(line):
                if isinstance(value, dt.datetime | dt.date):
                    sheet.write_datetime(r, c, value, date_format)
                elif isinstance(value, str):
                    sheet.write_string(r, c, value)  # never turned into a formula
                elif value is not None:
                    sheet.write(r, c, value)
    book.close()
    return path


def test_values_read_as_a_person_sees_them(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "export.xlsx",
        {
            "Blad1": [
                ["bsn", "aantal", "score", "datum", "moment", "vlag", "tekst"],
                [
                    123456782,
                    3,
                    2.5,
                    dt.date(2024, 1, 31),
                    dt.datetime(2024, 1, 31, 8, 15),
                    True,
                    "007",
                ],
                [1e20, -0.0, 0.1 + 0.2, dt.datetime(2023, 12, 1), None, False, "  "],
            ]
        },
    )
    upload, frame = open_and_read(path)
    assert upload.info.format == "xlsx"
    assert upload.info.encoding is None
    assert upload.tables["main"].header == [
        "bsn",
        "aantal",
        "score",
        "datum",
        "moment",
        "vlag",
        "tekst",
    ]
    assert rows(frame) == [
        ("123456782", "3", "2.5", "2024-01-31", "2024-01-31 08:15:00", "WAAR", "007"),
        ("1e+20", "0", "0.3", "2023-12-01", None, "ONWAAR", None),
    ]


def test_formulas_give_their_stored_values_and_bw004(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["a", "b"])
    sheet.write_row(1, 0, [2, 3])
    sheet.write_formula(2, 0, "=A2*10", None, 20)
    sheet.write_string(2, 1, '=HYPERLINK("http://example.invalid")')
    book.close()
    upload, frame = open_and_read(path)
    assert [w.code for w in upload.warnings] == ["BW-004"]
    # The text that merely looks like a formula stays text.
    assert rows(frame) == [("2", "3"), ("20", '=HYPERLINK("http://example.invalid")')]


def without_stored_results(path: Path, target: Path) -> Path:
    """A copy of workbook `path` whose formulas have no stored result, as a workbook written by
    a program (and never opened in Excel) has them."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as copy:
        for member in source.infolist():
            data = source.read(member)
            if member.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"(</f>)<v>[^<]*</v>", rb"\1", data)
            copy.writestr(member, data)
    return target


def test_formulas_without_stored_results_say_so_plainly(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["a", "b"])
    sheet.write_row(1, 0, [2, 3])
    sheet.write_formula(2, 0, "=A2*10", None, 20)
    sheet.write_number(2, 1, 4)
    book.close()
    upload, frame = open_and_read(without_stored_results(path, tmp_path / "berekend.xlsx"))
    assert [w.code for w in upload.warnings] == ["BW-004"]
    text = upload.warnings[0].message
    assert "geen opgeslagen uitkomst" in text and "sla haar op" in text
    assert "opgeslagen waarden gebruikt" not in text
    assert rows(frame) == [("2", "3"), (None, "4")]


def test_no_formula_no_warning(tmp_path: Path) -> None:
    path = workbook(tmp_path / "export.xlsx", {"Blad1": [["a"], ["=1+1"]]})
    upload, frame = open_and_read(path)
    assert upload.warnings == []
    assert rows(frame) == [("=1+1",)]


def test_first_visible_sheet_is_the_table(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    book = xlsxwriter.Workbook(str(path))
    hidden = book.add_worksheet("Hulp")
    hidden.write_row(0, 0, ["niet", "dit"])
    hidden.hide()
    data = book.add_worksheet("Gegevens")
    data.write_row(0, 0, ["a", "b"])
    data.write_row(1, 0, ["1", "2"])
    data.activate()
    book.close()
    _, frame = open_and_read(path)
    assert rows(frame) == [("1", "2")]


def test_sheets_per_table_for_a_multi_table_dataset(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "nivel.xlsx",
        {
            "Praktijk": [["agb"], ["12345678"]],
            "episodes ": [["id", "patient_id"], ["e1", "p1"], ["e2", "p2"]],
            "Toelichting": [["lees mij"]],
        },
    )
    upload = open_upload(path, tables=["praktijk", "therapeuten", "episodes"])
    assert sorted(upload.tables) == ["episodes", "praktijk"]
    assert rows(read_table(upload, "episodes")) == [("e1", "p1"), ("e2", "p2")]
    assert [w.code for w in upload.warnings] == ["BW-001"]


def test_trailing_empty_rows_and_columns_without_header_are_ignored(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "export.xlsx",
        {"Blad1": [["a", "b"], ["1", "2"], ["", ""], ["", "", "zwerver"]]},
    )
    _, frame = open_and_read(path)
    assert rows(frame) == [("1", "2")]


def test_large_sheet_comes_in_bounded_batches(tmp_path: Path) -> None:
    table: list[list[object]] = [["n", "kwadraat"]] + [[i, i * i] for i in range(2500)]
    path = workbook(tmp_path / "export.xlsx", {"Blad1": table})
    upload = open_upload(path, limits=Limits(batch_rows=1000))
    batches = list(upload.tables["main"].batches())
    assert max(batch.height for batch in batches) <= 1000
    frame = read_table(upload)
    assert frame["kwadraat"].to_list() == [str(i * i) for i in range(2500)]
    assert upload.tables["main"].bytes_read == upload.progress_total


def test_empty_workbook_or_header_only_is_bf005(tmp_path: Path) -> None:
    empty = workbook(tmp_path / "leeg.xlsx", {"Blad1": []})
    assert read_error(empty).code == "BF-005"
    header_only = workbook(tmp_path / "kop.xlsx", {"Blad1": [["a", "b"]]})
    assert read_error(header_only).code == "BF-005"


def test_duplicate_header_in_a_sheet_is_bf008(tmp_path: Path) -> None:
    path = workbook(tmp_path / "export.xlsx", {"Blad1": [["a", "a"], [1, 2]]})
    assert read_error(path).code == "BF-008"


def test_one_cell_far_away_is_refused_before_calamine_allocates_the_grid(tmp_path: Path) -> None:
    # A and XFD1048576: a 5 KB file whose grid would take half a terabyte in calamine.
    path = tmp_path / "ver.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write(0, 0, "a")
    sheet.write(1_048_575, 16_383, "b")
    book.close()
    error = read_error(path)
    assert error.code == "BF-006"
    assert error.info is not None and error.info.format == "xlsx"
    # Points group the thousands; the comma after "cel)" stays a comma.
    assert error.message == (
        "Bestand is groter dan toegestaan: een werkblad beslaat 17.179.869.184 cellen (van A1 "
        "tot de laatste gevulde cel), het maximum is 32.000.000."
    )


def test_formatted_empty_cells_far_away_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "opgemaakt.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["a", "b"])
    sheet.write_row(1, 0, ["1", "2"])
    sheet.write_blank(1_048_575, 16_383, None, book.add_format({"bold": True}))
    book.close()
    _, frame = open_and_read(path)
    assert rows(frame) == [("1", "2")]


def test_corrupt_workbook_is_bf001(tmp_path: Path) -> None:
    good = workbook(tmp_path / "goed.xlsx", {"Blad1": [["a"], ["1"]]})
    bad = tmp_path / "kapot.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]
            target.writestr(member, data)
    assert read_error(bad).code == "BF-001"


def with_sheet_data(path: Path, target: Path, sheet_data: str) -> Path:
    """A copy of workbook `path` whose first sheet holds `sheet_data` (raw XML) instead."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as copy:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                start, end = text.index("<sheetData"), text.index("</sheetData>")
                data = (text[:start] + sheet_data + text[end:]).encode()
            copy.writestr(member, data)
    return target


def test_wide_sheets_are_read_in_full(tmp_path: Path) -> None:
    header = [f"veld{i}" for i in range(40)]
    path = workbook(tmp_path / "breed.xlsx", {"Blad1": [header, [str(i) for i in range(40)]]})
    upload, frame = open_and_read(path)
    assert upload.tables["main"].header == header
    assert rows(frame) == [tuple(str(i) for i in range(40))]


def test_cells_without_references_end_in_a_clear_error(tmp_path: Path) -> None:
    # Calamine refuses cells without a reference; what matters is that nothing crashes.
    base = workbook(tmp_path / "basis.xlsx", {"Blad1": [["x"], ["y"]]})
    data = (
        "<sheetData>"
        '<row><c t="inlineStr"><is><t>a</t></is></c><c t="inlineStr"><is><t>b</t></is></c></row>'
        '<row><c t="inlineStr"><is><t>1</t></is></c><c><v>2</v></c></row>'
        "</sheetData>"
    )
    error = read_error(with_sheet_data(base, tmp_path / "zonder-r.xlsx", data))
    assert error.code == "BF-001"


def test_a_row_numbered_far_down_is_refused(tmp_path: Path) -> None:
    base = workbook(tmp_path / "basis.xlsx", {"Blad1": [["x"], ["y"]]})
    data = (
        '<sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
        '<row r="90000000"><c r="A90000000"><v>2</v></c></row></sheetData>'
    )
    assert read_error(with_sheet_data(base, tmp_path / "ver.xlsx", data)).code == "BF-006"


def test_a_far_cell_hidden_behind_other_attributes_is_still_seen(tmp_path: Path) -> None:
    base = workbook(tmp_path / "basis.xlsx", {"Blad1": [["x"], ["y"]]})
    data = (
        '<sheetData><row r="1"><c r="A1"><v>1</v></c></row>'
        '<row r="1048576"><c s="0" t="n" r="XFD1048576"><v>2</v></c></row></sheetData>'
    )
    assert read_error(with_sheet_data(base, tmp_path / "verstopt.xlsx", data)).code == "BF-006"


def with_style_number_format(path: Path, target: Path, number_format: int, cell: str) -> Path:
    """A copy of workbook `path` whose default cell style has `number_format` (14 a date, 46 a
    duration) and whose `cell` holds that style, its value unchanged."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as copy:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/styles.xml":
                data = data.replace(
                    b'<cellXfs count="1"><xf numFmtId="0"',
                    b'<cellXfs count="1"><xf numFmtId="%d"' % number_format,
                )
            if member.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b'<c r="%s"' % cell.encode(), b'<c r="%s" s="0"' % cell.encode()
                )
            copy.writestr(member, data)
    return target


@pytest.mark.parametrize(
    ("number_format", "value", "cell", "where"),
    [
        (46, 1e15, "A3", "rij 2"),  # a duration of 10^15 days: Python's timedelta overflows
        (14, -1e308, "A2", "rij 1"),  # a date before any calendar: calamine panics
        (22, -1e308, "A1", "de kopregel"),
    ],
)
def test_dates_and_durations_outside_excels_range_are_bf001(
    tmp_path: Path, number_format: int, value: float, cell: str, where: str
) -> None:
    path = tmp_path / "export.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["a", "b"] if cell != "A1" else [value, "b"])
    sheet.write_row(1, 0, [value if cell == "A2" else 1, 2])
    sheet.write_row(2, 0, [value if cell == "A3" else 1, 3])
    book.close()
    error = read_error(with_style_number_format(path, tmp_path / "datum.xlsx", number_format, cell))
    assert error.code == "BF-001"
    assert f"{where} bevat een datum, tijd of tijdsduur buiten het bereik" in error.message
