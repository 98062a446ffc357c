"""The report as an Excel workbook: sheet "Samenvatting" and sheet "Meldingen".

Every piece of text goes in through `write_string`, so a value such as `=HYPERLINK(...)` sent
by a care provider stays inert text for whoever opens the workbook. The workbook is written
in constant-memory mode (rows are flushed as they are written) to cope with very large reports.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from zorgbroker.intake.report.model import Report
from zorgbroker.intake.report.summary import (
    CLASS_LEGEND,
    FILE_REJECTED,
    MODE_LABELS,
    NO_MESSAGES,
    classes_present,
    code_rows,
    yes_no,
)

SUMMARY_SHEET = "Samenvatting"
MESSAGES_SHEET = "Meldingen"

#: Excel's row limit, header row included.
EXCEL_MAX_ROWS = 1_048_576

#: Message frame column -> Dutch header, in sheet order.
_HEADERS: dict[str, str] = {
    "table": "Tabel",
    "record": "Rij",
    "field": "Veld",
    "code": "Code",
    "class": "Klasse",
    "value": "Waarde",
    "message": "Melding",
}
_MIN_WIDTH = 6
_MAX_WIDTH = {"value": 40, "message": 80}
_DEFAULT_MAX_WIDTH = 30

_WORKBOOK_OPTIONS: dict[str, Any] = {
    "constant_memory": True,
    # Belt and braces: write_string never makes formulas, and these keep it so for any
    # accidental write() too.
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
}


@dataclass(frozen=True)
class _Formats:
    bold: Format
    title: Format
    alarm: Format
    count: Format


def write_xlsx(
    report: Report,
    out: Path | IO[bytes],
    *,
    max_rows_per_sheet: int = EXCEL_MAX_ROWS - 1,
) -> None:
    """Write the workbook; messages beyond one sheet's rows continue on "Meldingen 2", etc."""
    target: str | IO[bytes] = str(out) if isinstance(out, Path) else out
    workbook = xlsxwriter.Workbook(target, _WORKBOOK_OPTIONS)
    try:
        formats = _Formats(
            bold=workbook.add_format({"bold": True}),
            title=workbook.add_format({"bold": True, "font_size": 14}),
            alarm=workbook.add_format({"bold": True, "font_color": "#C00000"}),
            count=workbook.add_format({"num_format": "#,##0"}),
        )
        summary = workbook.add_worksheet(SUMMARY_SHEET)
        sheet_names = _message_sheet_names(report.messages.height, max_rows_per_sheet)
        _write_summary(summary, report, formats, sheet_names)
        _write_messages(workbook, report, formats, sheet_names, max_rows_per_sheet)
    finally:
        workbook.close()


def _message_sheet_names(n_messages: int, rows_per_sheet: int) -> list[str]:
    n_sheets = max(1, -(-n_messages // rows_per_sheet))
    return [MESSAGES_SHEET] + [f"{MESSAGES_SHEET} {i}" for i in range(2, n_sheets + 1)]


def _write_summary(
    sheet: Worksheet, report: Report, formats: _Formats, message_sheets: Sequence[str]
) -> None:
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 16)
    sheet.set_column(2, 2, 10)
    sheet.set_column(3, 3, 70)

    sheet.write_string(0, 0, "Kwaliteitsrapport", formats.title)
    facts: list[tuple[str, str | int]] = [
        ("Dataset", report.dataset),
        ("Versie", report.dataset_version),
        ("Modus", MODE_LABELS.get(report.mode, report.mode)),
        ("Bestand", report.file.name),
        ("SHA-256", report.file.sha256),
        ("Grootte (bytes)", report.file.bytes),
        ("Formaat", report.file.format),
        ("Tekenset", report.file.encoding or ""),
        ("Records", report.records),
        ("Geaccepteerd", report.accepted),
        ("Afgewezen", report.records - report.accepted),
        ("Bestand afgewezen", yes_no(report.file_rejected)),
    ]
    if report.stored is not None:
        facts += [
            ("Opgeslagen: nieuw", report.stored.new),
            ("Opgeslagen: gewijzigd", report.stored.updated),
            ("Opgeslagen: ongewijzigd", report.stored.unchanged),
        ]
    # Fingerprints of the keys used (never a key), so an upload can be tied to a key version.
    facts += [(f"Sleutel: {name}", str(value)) for name, value in report.pseudonymisation.items()]
    row = 2
    for label, value in facts:
        sheet.write_string(row, 0, label, formats.bold)
        if isinstance(value, int):
            sheet.write_number(row, 1, value, formats.count)
        else:
            sheet.write_string(row, 1, value)
        row += 1
    if report.file_rejected:
        sheet.write_string(row, 0, FILE_REJECTED, formats.alarm)
        row += 1

    row += 1
    rows = code_rows(report)
    if not rows:
        sheet.write_string(row, 0, "Geen meldingen." if report.file_rejected else NO_MESSAGES)
        return
    for col, header in enumerate(("Code", "Klasse", "Aantal", "Uitleg")):
        sheet.write_string(row, col, header, formats.bold)
    for code_row in rows:
        row += 1
        sheet.write_string(row, 0, code_row.code)
        sheet.write_string(row, 1, code_row.klass)
        sheet.write_number(row, 2, code_row.count, formats.count)
        sheet.write_string(row, 3, code_row.explanation)

    row += 2
    sheet.write_string(row, 0, "Klasse", formats.bold)
    sheet.write_string(row, 1, "Betekenis", formats.bold)
    for klass in classes_present(rows):
        row += 1
        sheet.write_string(row, 0, klass)
        sheet.write_string(row, 1, CLASS_LEGEND[klass])

    row += 2
    where = ", ".join(f'"{name}"' for name in message_sheets)
    sheet.write_string(row, 0, f"Alle meldingen staan op het werkblad {where}.")


def _write_messages(
    workbook: xlsxwriter.Workbook,
    report: Report,
    formats: _Formats,
    sheet_names: Sequence[str],
    rows_per_sheet: int,
) -> None:
    columns = ["table", "record", "field", "code", "class", "value", "message"]
    if not report.multi_table:
        columns.remove("table")
    # Same messages, same order as the JSON report: the frame as it is, never re-sorted.
    frame = report.messages.select(columns)
    widths = _column_widths(frame)
    record_col = columns.index("record")

    for index, name in enumerate(sheet_names):
        part = frame.slice(index * rows_per_sheet, rows_per_sheet)
        sheet = workbook.add_worksheet(name)
        for col, column in enumerate(columns):
            sheet.set_column(col, col, widths[column])
        for col, column in enumerate(columns):
            sheet.write_string(0, col, _HEADERS[column], formats.bold)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, max(part.height, 1), len(columns) - 1)
        # XlsxWriter takes cells one at a time; this loop is the file-writing edge.
        for row, values in enumerate(_rows(part), start=1):
            for col, cell in enumerate(values):
                if cell is None:
                    continue
                if col == record_col:
                    sheet.write_number(row, col, cell)
                else:
                    sheet.write_string(row, col, cell)


def _rows(frame: pl.DataFrame) -> Iterator[tuple[Any, ...]]:
    for chunk in frame.iter_slices(n_rows=50_000):
        yield from chunk.iter_rows()


def _column_widths(frame: pl.DataFrame) -> dict[str, int]:
    """Widths from the longest text per column (and its header), within sensible bounds."""
    lengths = frame.select(
        pl.col(column).cast(pl.String).str.len_chars().max().alias(column)
        for column in frame.columns
    ).row(0)
    widths: dict[str, int] = {}
    for column, longest in zip(frame.columns, lengths, strict=True):
        wanted = max(longest or 0, len(_HEADERS[column]) + 3) + 2
        upper = _MAX_WIDTH.get(column, _DEFAULT_MAX_WIDTH)
        widths[column] = max(_MIN_WIDTH, min(wanted, upper))
    return widths
