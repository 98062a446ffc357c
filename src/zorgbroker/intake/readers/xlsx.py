"""XLSX workbooks through python-calamine: sheets as tables of text, the way a person sees them.

Before calamine loads anything, `xlsx_scan` streams the workbook's XML once to refuse grids
calamine cannot hold and to notice formulas (BW-004).

How cells become text: numbers without a fractional part print as integers ("12", not "12.0"),
other numbers with up to 15 significant digits and a decimal point ("2.5"); dates as
YYYY-MM-DD (with " HH:MM:SS" when there is a time of day); times as HH:MM:SS; booleans as Dutch
Excel shows them ("WAAR", "ONWAAR"). Error values (#N/A, ...) and formulas without a stored
value come back empty. A number that Excel stored as a number has lost any leading zeros; that
is for the engine to report.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import polars as pl
from python_calamine import CalamineError, CalamineSheet, CalamineWorkbook, SheetTypeEnum
from python_calamine import SheetVisibleEnum as Visible

from zorgbroker.intake.readers import dialect, messages
from zorgbroker.intake.readers.base import FileWarning, Limits, Table
from zorgbroker.intake.readers.direct import DirectScan
from zorgbroker.intake.readers.frames import TrailingBlankRows, blank_to_null
from zorgbroker.intake.readers.xlsx_scan import MAX_SHEET_CELLS, scan_parts

#: Cells converted to text at a time (Python objects from calamine are short-lived).
_CELLS_PER_FRAME = 2_000_000


# --- cells as text -------------------------------------------------------------------------


def _number_text(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return format(value, ".15g")


def _datetime_text(value: dt.datetime) -> str:
    if value.time() == dt.time(0):
        return value.date().isoformat()
    return value.isoformat(sep=" ", timespec="seconds")


def _duration_text(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def cell_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "WAAR" if value else "ONWAAR"
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return _datetime_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.timedelta):
        return _duration_text(value)
    return str(value)


def column_series(name: str, values: Sequence[object]) -> pl.Series:
    """One column of calamine values as text.

    Text-only columns (the usual case) go straight into Polars; only columns holding numbers,
    dates or booleans are formatted cell by cell, as calamine hands over Python objects anyway.
    """
    try:
        return pl.Series(name, values, dtype=pl.String, strict=True)
    except TypeError:
        return pl.Series(name, list(map(cell_text, values)), dtype=pl.String)


# --- tables --------------------------------------------------------------------------------


class XlsxTable:
    def __init__(
        self,
        *,
        name: str,
        sheet: CalamineSheet,
        header: list[str],
        limits: Limits,
        bytes_total: int,
    ) -> None:
        self.name = name
        self.header = header
        self.bytes_total = bytes_total
        self.bytes_read = 0
        self.direct: DirectScan | None = None  # workbooks are always read in batches
        self._sheet = sheet
        self._limits = limits

    def batches(self) -> Iterator[pl.DataFrame]:
        self.bytes_read = 0
        width = len(self.header)
        per_frame = max(1, min(self._limits.batch_rows, _CELLS_PER_FRAME // width))
        data_rows = max(1, self._sheet.height - 1)
        tail = TrailingBlankRows(self.header, self._limits.batch_rows)
        label = None if self.name == "main" else self.name
        rows = _checked_rows(self._sheet.iter_rows(), table=label)
        next(rows, None)  # the header
        done = 0
        while block := list(islice(rows, per_frame)):
            columns = list(zip(*block, strict=True))
            frame = pl.DataFrame(
                [column_series(name, columns[index]) for index, name in enumerate(self.header)]
            )
            yield from tail.push(blank_to_null(frame))
            done += len(block)
            self.bytes_read = self.bytes_total * min(done, data_rows) // data_rows
        self.bytes_read = self.bytes_total


def _checked_rows(rows: Iterator[list[Any]], *, table: str | None) -> Iterator[list[Any]]:
    """The sheet's rows (header first); a row calamine cannot hand over ends in a ReadError.

    Calamine turns a cell into a Python object only when its row is taken, and a date, time or
    duration far outside Excel's range (a number in a date-formatted cell, say) cannot become
    one: Python's datetime overflows, or calamine itself panics.
    """
    number = -1  # the header is row 0, data rows count from 1 as records do
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except BaseException as error:
            _reraise_unless_calamine(error)
            what = f"rij {number + 1}" if number >= 0 else "de kopregel"
            raise messages.unreadable(
                f"{what} bevat een datum, tijd of tijdsduur buiten het bereik dat Excel kent "
                "(een getal in een cel die als datum is opgemaakt?).",
                table=table,
            ) from None
        number += 1
        yield row


def open_workbook_tables(
    path: Path,
    archive: zipfile.ZipFile,
    *,
    tables: Sequence[str] | None,
    limits: Limits,
    size: int,
) -> tuple[dict[str, Table], list[FileWarning]]:
    """The workbook's tables: its first visible sheet as "main", or one sheet per table."""
    scan = scan_parts(path, archive)
    if scan.cells > MAX_SHEET_CELLS:
        raise messages.sheet_too_large(scan.cells, MAX_SHEET_CELLS)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheets = list(workbook.sheets_metadata)
    except BaseException as error:
        _reraise_unless_calamine(error)
        raise messages.unreadable("de Excel-werkmap is beschadigd of onvolledig.") from None
    visible = [
        sheet.name
        for sheet in sheets
        if sheet.typ == SheetTypeEnum.WorkSheet and sheet.visible == Visible.Visible
    ]
    warnings: list[FileWarning] = []
    chosen: dict[str, str] = {}
    if tables is None:
        if not visible:
            raise messages.no_data()
        chosen["main"] = visible[0]
    else:
        wanted = {table.casefold(): table for table in tables}
        for sheet_name in (sheet.name for sheet in sheets):
            table = wanted.get(sheet_name.strip().casefold())
            if table is not None and table not in chosen:
                chosen[table] = sheet_name
            elif sheet_name in visible:
                warnings.append(messages.extra_member(sheet_name, kind="werkblad"))
        chosen = {table: chosen[table] for table in tables if table in chosen}
    result: dict[str, Table] = {}
    share = size // max(1, len(chosen))
    for table, sheet_name in chosen.items():
        label = None if tables is None else table
        sheet = _load_sheet(workbook, sheet_name, label)
        header = _header(sheet, label)
        if header is None or (tables is None and sheet.height < 2):
            raise messages.no_data(table=label)
        result[table] = XlsxTable(
            name=table, sheet=sheet, header=header, limits=limits, bytes_total=share
        )
    if scan.formulas_without_values:
        warnings.append(messages.formulas_without_values())
    elif scan.formulas:
        warnings.append(messages.formulas_ignored())
    return result, warnings


def _load_sheet(workbook: CalamineWorkbook, sheet_name: str, table: str | None) -> CalamineSheet:
    try:
        return workbook.get_sheet_by_name(sheet_name)
    except BaseException as error:
        _reraise_unless_calamine(error)
        raise messages.unreadable(
            "een werkblad van de Excel-werkmap is beschadigd.", table=table
        ) from None


def _reraise_unless_calamine(error: BaseException) -> None:
    """Let interrupts through; anything calamine raises, a Rust panic included (pyo3 makes that
    a BaseException of its own), means the workbook cannot be read."""
    if isinstance(error, CalamineError | Exception) or type(error).__name__ == "PanicException":
        return
    raise error


def _header(sheet: CalamineSheet, table: str | None) -> list[str] | None:
    first = next(_checked_rows(sheet.iter_rows(), table=table), None)
    if not first or all(value == "" for value in first):
        return None
    return dialect.column_names([cell_text(value) for value in first], table=table)
