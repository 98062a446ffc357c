"""A stored report as the API hands it out: the contract's JSON, the Excel workbook, and the
messages of rejected records as CSV. Pure functions of the report."""

from __future__ import annotations

import io

import polars as pl

from zorgbroker.intake.api import Report, write_json, write_xlsx

#: Messages that reject a record (the contract's record-level rejecting classes).
REJECTING = ("F", "TF")
#: A cell starting with one of these is a formula to a spreadsheet: it is made text.
_FORMULA_START = r"^[=+\-@\t\r]"


def report_json(report: Report) -> bytes:
    buffer = io.StringIO()
    write_json(report, buffer)
    return buffer.getvalue().encode("utf-8")


def report_xlsx(report: Report) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(report, buffer)
    return buffer.getvalue()


def rejected_csv(report: Report) -> bytes:
    """One line per message that rejected a record (F, TF): table, record, field, code, class,
    value, message. Cells a spreadsheet would take for a formula get a leading quote."""
    messages = report.messages.filter(pl.col("class").is_in(REJECTING))
    texts = [c for c, t in messages.schema.items() if t == pl.String]
    safe = messages.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in texts
    )
    buffer = io.BytesIO()
    # A byte-order mark, so that Excel reads the UTF-8 as such.
    buffer.write("\ufeff".encode())
    safe.write_csv(buffer, separator=";")
    return buffer.getvalue()
