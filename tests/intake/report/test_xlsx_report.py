from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from zorgbroker.intake.report.json_report import to_json_dict
from zorgbroker.intake.report.model import FileInfo, Report, Stored
from zorgbroker.intake.report.xlsx_report import write_xlsx

ReportFactory = Callable[..., Report]
HEADER = ["Rij", "Veld", "Code", "Klasse", "Waarde", "Melding"]
DANGEROUS = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "=1+1", "-"]


def saved(report: Report, tmp_path: Path, **options: Any) -> Path:
    path = tmp_path / "rapport.xlsx"
    write_xlsx(report, path, **options)
    return path


def sheet_rows(path: Path | io.BytesIO, name: str) -> list[list[Any]]:
    if isinstance(path, Path):
        workbook = CalamineWorkbook.from_path(str(path))
    else:
        workbook = CalamineWorkbook.from_filelike(path)
    rows: list[list[Any]] = workbook.get_sheet_by_name(name).to_python()
    return rows


def as_json_row(row: list[Any], columns: list[str]) -> dict[str, Any]:
    """A sheet row in the JSON report's terms (empty cell -> null, row number -> int)."""
    cells = dict(zip(columns, row, strict=True))
    return {
        "class": cells["Klasse"],
        "code": cells["Code"],
        "record": None if cells["Rij"] == "" else int(cells["Rij"]),
        "field": cells["Veld"] or None,
        "value": cells["Waarde"] or None,
        "message": cells["Melding"],
        **({"table": cells["Tabel"]} if "Tabel" in cells else {}),
    }


def summary_facts(rows: list[list[Any]]) -> dict[str, Any]:
    return {row[0]: row[1] for row in rows if row and row[0]}


def test_workbook_has_summary_and_messages_sheets(
    make_report: ReportFactory, tmp_path: Path
) -> None:
    path = saved(make_report(), tmp_path)

    assert CalamineWorkbook.from_path(str(path)).sheet_names == ["Samenvatting", "Meldingen"]
    assert sheet_rows(path, "Meldingen")[0] == HEADER


def test_messages_sheet_has_the_json_messages_in_the_same_order(
    make_report: ReportFactory, tmp_path: Path
) -> None:
    report = make_report()
    rows = sheet_rows(saved(report, tmp_path), "Meldingen")

    assert [as_json_row(row, rows[0]) for row in rows[1:]] == to_json_dict(report)["messages"]


def test_multi_table_report_has_a_table_column(multi_table_report: Report, tmp_path: Path) -> None:
    rows = sheet_rows(saved(multi_table_report, tmp_path), "Meldingen")

    assert rows[0] == ["Tabel", *HEADER]
    assert [as_json_row(row, rows[0]) for row in rows[1:]] == (
        to_json_dict(multi_table_report)["messages"]
    )


def test_values_that_look_like_formulas_stay_text(
    make_report: ReportFactory, tmp_path: Path
) -> None:
    messages = [
        {
            "record": i + 1,
            "field": "opmerking",
            "code": "W-301",
            "value": value,
            "message": f"Waarde {value} klopt niet",
        }
        for i, value in enumerate(DANGEROUS)
    ]
    path = saved(make_report(messages), tmp_path)

    rows = sheet_rows(path, "Meldingen")
    assert [row[4] for row in rows[1:]] == DANGEROUS
    with zipfile.ZipFile(path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert sheets
        for name in sheets:
            assert not re.search(rb"<f[ >]", archive.read(name)), name


def test_file_name_that_looks_like_a_formula_stays_text(
    make_report: ReportFactory, tmp_path: Path
) -> None:
    report = replace(make_report(), file=FileInfo("=cmd|' /C calc'!A0.csv", "00", 1, "csv", None))
    path = saved(report, tmp_path)

    assert summary_facts(sheet_rows(path, "Samenvatting"))["Bestand"] == "=cmd|' /C calc'!A0.csv"
    with zipfile.ZipFile(path) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")


def test_summary_sheet_states_the_upload_and_its_counts(
    make_report: ReportFactory, tmp_path: Path
) -> None:
    report = make_report(mode="production", records=100, stored=Stored(90, 5, 2))
    rows = sheet_rows(saved(report, tmp_path), "Samenvatting")
    facts = summary_facts(rows)

    assert facts["Dataset"] == "nhr-pmicd"
    assert facts["Versie"] == "2026.1"
    assert facts["Modus"] == "productie"
    assert facts["Bestand"] == "export.csv"
    assert facts["SHA-256"] == "ab" * 32
    assert facts["Grootte (bytes)"] == 123_456
    assert (facts["Formaat"], facts["Tekenset"]) == ("csv", "utf-8")
    assert (facts["Records"], facts["Geaccepteerd"], facts["Afgewezen"]) == (100, 97, 3)
    assert facts["Bestand afgewezen"] == "nee"
    assert (
        facts["Opgeslagen: nieuw"],
        facts["Opgeslagen: gewijzigd"],
        facts["Opgeslagen: ongewijzigd"],
    ) == (90, 5, 2)


def test_summary_sheet_lists_codes_by_class_with_dutch_explanations(
    make_report: ReportFactory, tmp_path: Path
) -> None:
    rows = sheet_rows(saved(make_report(), tmp_path), "Samenvatting")
    start = rows.index(["Code", "Klasse", "Aantal", "Uitleg"])
    table = [row for row in rows[start + 1 :] if row[0]][:6]

    assert [(row[0], row[1], int(row[2])) for row in table] == [
        ("BW-001", "BW", 1),
        ("F-004", "F", 1),
        ("F-301", "F", 1),
        ("W-301", "W", 2),
        ("TF-301", "TF", 1),
        ("TW-301", "TW", 1),
    ]
    assert table[2][3] == "BSN voldoet niet aan de elfproef"
    assert ["TF", "afgewezen wegens conflict met eerder aangeleverde gegevens"] in [
        row[:2] for row in rows
    ]


def test_test_upload_has_no_stored_counts(make_report: ReportFactory, tmp_path: Path) -> None:
    facts = summary_facts(sheet_rows(saved(make_report(), tmp_path), "Samenvatting"))

    assert facts["Modus"] == "test"
    assert not any(str(label).startswith("Opgeslagen") for label in facts)


def test_rejected_file_is_marked(make_report: ReportFactory, tmp_path: Path) -> None:
    bf = [
        {
            "record": None,
            "field": "bsn",
            "code": "BF-003",
            "value": None,
            "message": "Verplichte kolom ontbreekt: bsn",
        }
    ]
    rows = sheet_rows(saved(make_report(bf, file_rejected=True), tmp_path), "Samenvatting")
    facts = summary_facts(rows)

    assert facts["Bestand afgewezen"] == "ja"
    assert facts["Geaccepteerd"] == 0
    assert "BESTAND AFGEWEZEN" in facts


def test_clean_file_has_an_empty_messages_sheet(make_report: ReportFactory, tmp_path: Path) -> None:
    path = saved(make_report([], rejected=0), tmp_path)

    assert sheet_rows(path, "Meldingen") == [HEADER]
    assert "Geen meldingen: het bestand voldoet aan de specificatie." in summary_facts(
        sheet_rows(path, "Samenvatting")
    )


def test_header_is_frozen_and_filterable(make_report: ReportFactory, tmp_path: Path) -> None:
    path = saved(make_report(), tmp_path)

    with zipfile.ZipFile(path) as archive:
        xml = archive.read("xl/worksheets/sheet2.xml").decode()
    assert 'state="frozen"' in xml
    assert '<autoFilter ref="A1:F8"' in xml


def test_writes_to_a_binary_stream(make_report: ReportFactory) -> None:
    out = io.BytesIO()
    write_xlsx(make_report(), out)
    out.seek(0)

    assert len(sheet_rows(out, "Meldingen")) == 8


def test_control_characters_and_long_values_survive(
    make_report: ReportFactory, tmp_path: Path
) -> None:
    values = ["a\x01b\tc\nd", "_x0041_", "x" * 40_000]
    messages = [
        {"record": i + 1, "field": "opmerking", "code": "W-301", "value": v, "message": "m"}
        for i, v in enumerate(values)
    ]
    rows = sheet_rows(saved(make_report(messages), tmp_path), "Meldingen")

    assert rows[1][4] == "a\x01b\tc\nd"
    assert rows[2][4] == "_x0041_"
    assert rows[3][4] == "x" * 32_767  # Excel's cell limit


@pytest.mark.parametrize("per_sheet", [2, 3, 7])
def test_messages_beyond_one_sheet_continue_on_the_next(
    make_report: ReportFactory, tmp_path: Path, per_sheet: int
) -> None:
    report = make_report()
    path = saved(report, tmp_path, max_rows_per_sheet=per_sheet)

    names = CalamineWorkbook.from_path(str(path)).sheet_names
    n_sheets = -(-report.messages.height // per_sheet)
    assert names == ["Samenvatting", "Meldingen"] + [
        f"Meldingen {i}" for i in range(2, n_sheets + 1)
    ]
    rows: list[list[Any]] = []
    for name in names[1:]:
        sheet = sheet_rows(path, name)
        assert sheet[0] == HEADER
        rows += sheet[1:]
    assert [as_json_row(row, HEADER) for row in rows] == to_json_dict(report)["messages"]
