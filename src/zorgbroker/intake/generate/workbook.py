"""XLSX output: the CSV tables a dataset generator wrote, one worksheet each, every cell as text.

The generators write CSV (or a ZIP of CSV tables) only; a workbook is made from that output, so
it holds exactly the text the CSV carries, seeded faults included (an "abc" in a number field
stays text, a date stays the date text), and the expected messages stay valid, row numbers too.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import polars as pl
from xlsxwriter import Workbook
from xlsxwriter.worksheet import Worksheet

from zorgbroker.intake.report.summary import format_count

#: Rows of an Excel worksheet, the header included.
SHEET_ROWS = 1_048_576
#: CSV rows converted at a time: bounds memory whatever the table's size.
_BATCH_ROWS = 50_000
_OPTIONS = {
    # Rows go to a temporary file as they are written instead of staying in memory.
    "constant_memory": True,
    # The cells are data: "=..." is a seeded fault or a name, never a formula or a link.
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


class SheetTooLong(ValueError):
    """A table has more rows than a worksheet holds: a usage error, the user asked for .xlsx."""


def is_xlsx(path: Path) -> bool:
    return path.suffix.lower() == ".xlsx"


def csv_tables(source: Path, folder: Path, *, single: str) -> dict[str, Path]:
    """Sheet name -> CSV file: the ZIP's members (unpacked into `folder`), in the archive's order,
    or `source` itself as the one sheet `single`."""
    if not zipfile.is_zipfile(source):
        return {single: source}
    with zipfile.ZipFile(source) as archive:
        names = archive.namelist()
        # Our own archive, written a moment ago: its member names are plain table names.
        archive.extractall(folder)
    return {name.removesuffix(".csv"): folder / name for name in names}


def write_workbook(tables: Mapping[str, Path], out: Path) -> None:
    """Write every CSV table to a sheet of its own; refuse before writing if one does not fit."""
    for name, path in tables.items():
        lines = _scan(path).select(pl.len()).collect().item()
        if lines > SHEET_ROWS:
            raise SheetTooLong(
                f"Werkblad '{name}' zou {format_count(lines)} rijen krijgen (kopregel "
                f"meegeteld), maar een Excel-werkblad heeft er hooguit {format_count(SHEET_ROWS)}. "
                "Vraag minder --rows of kies een .csv- of .zip-bestand."
            )
    with Workbook(str(out), _OPTIONS) as workbook:
        for name, path in tables.items():
            _write_sheet(workbook.add_worksheet(name), path)


def _scan(path: Path) -> pl.LazyFrame:
    # Without a header row the header line is read as the sheet's first row, like every other
    # row; every cell stays text.
    return pl.scan_csv(path, separator=";", has_header=False, infer_schema=False)


def _write_sheet(sheet: Worksheet, path: Path) -> None:
    number = 0
    for frame in _scan(path).collect_batches(chunk_size=_BATCH_ROWS):
        for row in frame.iter_rows():
            sheet.write_row(number, 0, row)
            number += 1
    # Every cell is text on purpose; Excel would otherwise flag each number stored as text.
    sheet.ignore_errors({"number_stored_as_text": "A1:XFD1048576"})
