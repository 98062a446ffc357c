"""Helpers to write small real upload files for the intake tests."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from zorgbroker.intake.service import check_file

TODAY = dt.date(2026, 11, 22)


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[dict[str, str]],
    sep: str = ";",
    encoding: str = "utf-8",
) -> Path:
    lines = [sep.join(header)]
    lines += [sep.join(str(row.get(col, "")) for col in header) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def csv_bytes(header: Sequence[str], rows: Sequence[dict[str, str]], sep: str = ";") -> bytes:
    buffer = io.StringIO()
    buffer.write(sep.join(header) + "\n")
    for row in rows:
        buffer.write(sep.join(str(row.get(col, "")) for col in header) + "\n")
    return buffer.getvalue().encode("utf-8")


def write_zip(path: Path, tables: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in tables.items():
            archive.writestr(name, data)
    return path


def triples(report_messages: object) -> set[tuple[object, ...]]:
    frame = report_messages  # a Polars frame
    rows = frame.select("table", "record", "field", "code").rows()  # type: ignore[attr-defined]
    return {(t, r, f, c) if t is not None else (r, f, c) for t, r, f, c in rows}


@pytest.fixture
def check(tmp_path: Path):  # type: ignore[no-untyped-def]
    def run(path: Path, dataset: str, organisation: str | None = None):  # type: ignore[no-untyped-def]
        return check_file(path, dataset, organisation=organisation, today=TODAY).report

    return run
