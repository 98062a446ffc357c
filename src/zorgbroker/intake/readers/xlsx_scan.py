"""A first look at a workbook's XML: how large a grid each sheet spans, and any formulas.

Calamine keeps a loaded sheet as a dense grid spanning the outermost filled cells, so a 5 KB
workbook with one value in A1 and one in XFD1048576 would ask for half a terabyte and abort the
process. The XML is therefore streamed once, and a sheet whose grid could exceed
`MAX_SHEET_CELLS` is refused before calamine sees it.

The scan is cheap for the usual sheet: substring counts and one regular expression per block,
run by Polars (Rust) rather than Python's `re`. Only a sheet with cells beyond column Z, rows
numbered past a million, or cells without a reference gets a second, more thorough pass. The
estimate errs on the large side: numbered rows count even when their cells are merely
formatted, and cells without a reference (rare; calamine places them after their left
neighbour) count as if they all sat in one row.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import polars as pl

from zorgbroker.intake.readers.archive import open_member

#: Largest grid (rows x columns, from A1 to the last filled cell) a sheet may span: calamine
#: spends 32 bytes a cell before any text.
MAX_SHEET_CELLS = 32_000_000
_EXCEL_COLUMNS = 16_384
#: Up to column Z and below row 1,000,000 no sheet can be too large (26 x 1,000,000 cells).
_NARROW_COLUMNS = 26
_SCAN_BLOCK_BYTES = 4 * 1024 * 1024

_WORKSHEET = re.compile(r"(^|/)worksheets/[^/]+\.xml$", re.IGNORECASE)
#: A cell reference beyond column Z, with the rest of its tag (to tell filled from formatted).
_WIDE_CELL = r'\br="[A-Z]{2,3}[0-9]+"[^>]*>'
#: A reference to a row past 999,999.
_FAR_ROW = r'\br="[A-Z]{0,3}[0-9]{7,}"'
_ROW_NUMBER = r'<(?:\w+:)?row\b[^>]*?\br="([0-9]+)"'
#: A formula that is the last thing in its cell: no <v> with a stored result follows it.
_FORMULA_WITHOUT_VALUE = r"<(?:\w+:)?f\b(?:[^>]*/>|[^>]*>[^<]*</(?:\w+:)?f>)\s*</(?:\w+:)?c>"
#: A cell tag whose attributes do not include r.
_UNREFERENCED_CELL = r'<(?:\w+:)?c(?:\s+(?:[^\sr=>/][^\s=>/]*|r[^\s=>/]+)\s*=\s*"[^"]*")*\s*/?>'


def column_number(letters: str) -> int:
    """1 for A, 27 for AA, 16384 for XFD."""
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _text(block: bytes) -> pl.Expr:
    try:
        series = pl.Series([block], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.PolarsError:  # not UTF-8 (a block cut inside a character, or hostile)
        series = pl.Series([block.decode("utf-8", errors="replace")])
    return pl.lit(series)


@dataclass
class SheetExtent:
    """How far the cells of one XML part may reach, and whether it holds formulas."""

    formulas: bool = False
    #: A formula has no stored result (the workbook was never calculated and saved by Excel).
    formulas_without_values: bool = False
    columns: int = 0
    cell_tags: int = 0
    referenced_cells: int = 0
    far_rows: bool = False
    prefixed: bool = False
    rows: int = 0
    unreferenced: bool = False

    @property
    def needs_second_look(self) -> bool:
        suspicious_cells = self.cell_tags != self.referenced_cells or self.prefixed
        return self.columns > _NARROW_COLUMNS or self.far_rows or suspicious_cells

    @property
    def cells(self) -> int:
        """Upper bound of the grid calamine would allocate (valid after the second look)."""
        columns = max(self.columns, _NARROW_COLUMNS if self.rows else 0)
        if self.unreferenced:
            columns = max(columns, min(_EXCEL_COLUMNS, self.cell_tags))
        return self.rows * columns

    def first_look(self, block: bytes, *, worksheet: bool) -> None:
        """Take in a stretch of XML that does not end inside a tag."""
        text = _text(block)
        formula = pl.lit(False)
        if worksheet and not self.formulas:
            formula = pl.any_horizontal(
                text.str.contains(tag, literal=True) for tag in ("<f>", "<f ", ":f>", ":f ")
            )
        without_value = pl.lit(False)
        if worksheet and not self.formulas_without_values:
            without_value = text.str.contains(_FORMULA_WITHOUT_VALUE)
        cell_tags = text.str.count_matches("<c ", literal=True) + text.str.count_matches(
            "<c>", literal=True
        )
        prefixed = text.str.contains(":c ", literal=True) | text.str.contains(":row", literal=True)
        found = pl.select(
            formula.alias("formula"),
            without_value.alias("without_value"),
            text.str.extract_all(_WIDE_CELL).alias("wide"),
            cell_tags.alias("tags"),
            text.str.count_matches('<c r="', literal=True).alias("referenced"),
            text.str.contains(_FAR_ROW).alias("far_rows"),
            prefixed.alias("prefixed"),
        ).row(0, named=True)
        self.formulas = self.formulas or bool(found["formula"])
        self.formulas_without_values = self.formulas_without_values or bool(found["without_value"])
        self.cell_tags += int(found["tags"])
        self.referenced_cells += int(found["referenced"])
        self.far_rows = self.far_rows or bool(found["far_rows"])
        self.prefixed = self.prefixed or bool(found["prefixed"])
        # A self-closing tag is a merely formatted cell, which calamine skips.
        wide = (tag for tag in found["wide"] if "/>" not in tag)
        filled = {tag.split('"')[1].rstrip("0123456789") for tag in wide}
        if filled:
            self.columns = max(self.columns, *map(column_number, filled))

    def second_look(self, block: bytes) -> None:
        text = _text(block)
        found = pl.select(
            text.str.extract_all(_ROW_NUMBER)
            .list.eval(pl.element().str.extract(r'r="([0-9]+)"').cast(pl.Int64, strict=False))
            .list.max()
            .alias("highest"),
            text.str.count_matches(r"<(?:\w+:)?row[\s>]").alias("rows"),
            text.str.contains(_UNREFERENCED_CELL).alias("unreferenced"),
            text.str.count_matches(r"<\w+:c[\s>]").alias("prefixed_tags"),
        ).row(0, named=True)
        highest = found["highest"] if found["highest"] is not None else 0
        self.rows = max(self.rows, int(highest), int(found["rows"]))
        self.unreferenced = self.unreferenced or bool(found["unreferenced"])
        self.cell_tags += int(found["prefixed_tags"])


@dataclass(frozen=True)
class WorkbookScan:
    #: Any worksheet has a formula; any has a formula without a stored result.
    formulas: bool
    formulas_without_values: bool
    #: The largest grid any part may span.
    cells: int


def scan_parts(path: Path, archive: zipfile.ZipFile) -> WorkbookScan:
    """Stream every XML part once (twice for the rare suspicious one).

    All parts are scanned, not only the usual worksheet paths, because the workbook may point
    calamine at a sheet stored anywhere.
    """
    formulas = without_values = False
    largest = 0
    for member in archive.infolist():
        if member.is_dir() or not member.filename.lower().endswith(".xml"):
            continue
        extent = SheetExtent()
        worksheet = bool(_WORKSHEET.search(member.filename))
        _stream_tags(path, member, partial(extent.first_look, worksheet=worksheet))
        if extent.needs_second_look:
            _stream_tags(path, member, extent.second_look)
            largest = max(largest, extent.cells)
        formulas = formulas or extent.formulas
        without_values = without_values or extent.formulas_without_values
    return WorkbookScan(formulas, without_values, largest)


def _stream_tags(path: Path, member: zipfile.ZipInfo, take: Callable[[bytes], None]) -> None:
    """Hand `take` the member's text in stretches that never split a tag."""
    with open_member(path, member, table=None) as stream:
        carry = b""
        while block := stream.read(_SCAN_BLOCK_BYTES):
            text = carry + block
            cut = text.rfind(b"<")
            if cut <= 0 or len(text) - cut > _SCAN_BLOCK_BYTES:
                cut = len(text)
            take(text[:cut])
            carry = text[cut:]
        if carry:
            take(carry)
