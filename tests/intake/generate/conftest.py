"""Files generated once per test module, and a reader that sees them as the registry would."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import polars as pl

#: A fixed "today": generated dates depend on it, and tests must not depend on the real date.
TODAY = dt.date(2026, 11, 22)


def read_csv(data: bytes | Path) -> pl.DataFrame:
    """Every column as text, empty cells as null: what a reader hands the check engine."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    return pl.read_csv(io.BytesIO(raw), separator=";", infer_schema=False)


def read_zip(path: Path) -> dict[str, pl.DataFrame]:
    with zipfile.ZipFile(path) as archive:
        return {
            name.removesuffix(".csv"): read_csv(archive.read(name)) for name in archive.namelist()
        }


def header(data: bytes | Path) -> list[str]:
    raw = data.read_bytes() if isinstance(data, Path) else data
    return raw.split(b"\n", 1)[0].decode("utf-8").split(";")
