"""Empty templates of a dataset ("Gebruik" on the start page): the header of each table, as
the check reads it, for a data manager to fill from their own system.

One table: a CSV file, or a workbook with one sheet. Several tables: a ZIP of one CSV per table
(`<table>.csv`), or a workbook with one sheet per table, named as the reader looks them up.
"""

from __future__ import annotations

import io
import zipfile

import polars as pl

from zorgbroker.intake.api import DatasetSpec, TableSpec

#: Template formats: file suffix -> media type.
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _empty(table: TableSpec) -> pl.DataFrame:
    return pl.DataFrame(schema={f.name: pl.String() for f in table.fields})


def _csv(table: TableSpec) -> bytes:
    return _empty(table).write_csv().encode("utf-8")


def template_suffix(spec: DatasetSpec, wanted: str) -> str | None:
    """The suffix of the template asked for ("csv" or "xlsx"): a multi-table dataset's CSV
    template is a ZIP; None for a format there is none of."""
    if wanted == "xlsx":
        return "xlsx"
    if wanted in ("csv", "zip"):
        return "zip" if spec.multi_table else "csv"
    return None


def template_bytes(spec: DatasetSpec, suffix: str) -> bytes:
    if suffix == "csv":
        return _csv(spec.tables[0])
    if suffix == "zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for table in spec.tables:
                archive.writestr(f"{table.name}.csv", _csv(table))
        return buffer.getvalue()
    if suffix == "xlsx":
        import xlsxwriter

        buffer = io.BytesIO()
        with xlsxwriter.Workbook(buffer, {"in_memory": True}) as book:
            for table in spec.tables:
                sheet = book.add_worksheet(table.name if spec.multi_table else spec.dataset[:31])
                text = book.add_format({"num_format": "@"})
                for column, f in enumerate(table.fields):
                    sheet.write_string(0, column, f.name)
                    # Text columns, so a spreadsheet keeps leading zeros (AGB codes, BSNs).
                    sheet.set_column(column, column, max(12, len(f.name) + 2), text)
        return buffer.getvalue()
    raise ValueError(suffix)
