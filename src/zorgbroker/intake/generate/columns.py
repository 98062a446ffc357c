"""Turning numpy draws into Polars columns, and writing those columns out as CSV in chunks."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np
import numpy.typing as npt
import polars as pl

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_EPOCH = datetime.date(1970, 1, 1)

#: Rows per chunk: bounds memory whatever the number of rows asked for.
CHUNK_ROWS = 500_000


def day_number(date: datetime.date) -> int:
    """Days since 1970-01-01, the integer form Polars stores a Date in."""
    return (date - _EPOCH).days


def labels(values: Sequence[str], index: IntArray, present: BoolArray | None = None) -> pl.Series:
    """values[index] per row; null where `present` is False."""
    series = pl.Series(list(values), dtype=pl.String).gather(np.asarray(index, dtype=np.int64))
    return keep(series, present)


def dates(days: IntArray, present: BoolArray | None = None) -> pl.Series:
    series = pl.Series(np.asarray(days, dtype=np.int32), dtype=pl.Int32).cast(pl.Date)
    return keep(series, present)


def keep(series: pl.Series, present: BoolArray | None) -> pl.Series:
    if present is None:
        return series
    return (
        pl.select(pl.when(pl.Series(present, dtype=pl.Boolean)).then(series))
        .to_series()
        .alias(series.name)
    )


def chunks(rows: int, size: int = CHUNK_ROWS) -> list[tuple[int, int, int]]:
    """(chunk number, first row, row count) for every chunk of `rows`."""
    return [
        (number, start, min(size, rows - start))
        for number, start in enumerate(range(0, rows, size))
    ]


def chunk_rng(seed: int, dataset_salt: int, chunk: int) -> np.random.Generator:
    """An independent stream per (seed, dataset, chunk): results do not depend on chunk order."""
    return np.random.default_rng([seed, dataset_salt, chunk])


class CsvSink:
    """Appends frames to one `;`-separated UTF-8 CSV file; the header is written once."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = list(columns)
        self.rows = 0
        self._handle: IO[bytes] | None = None

    def __enter__(self) -> CsvSink:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self.path.open("wb")
        header = ";".join(self.columns) + "\n"
        self._handle.write(header.encode("utf-8"))
        return self

    def write(self, frame: pl.DataFrame) -> None:
        assert self._handle is not None, "CsvSink used outside its with-block"
        frame.select(self.columns).write_csv(
            self._handle, separator=";", include_header=False, date_format="%Y-%m-%d"
        )
        self.rows += frame.height

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
