"""What every reader does to its frames before the engine sees them (vectorised, per batch)."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

#: A cell of nothing but (Unicode) white space, or empty, counts as empty.
_BLANK = r"^\s*$"
#: First bytes of the UTF-8 encodings of all non-ASCII white space (U+0085, U+00A0, U+1680,
#: U+2000 to U+205F, U+3000).
_UNICODE_SPACE_LEADS = (b"\xc2", b"\xe1", b"\xe2", b"\xe3")


def may_hold_unicode_space(utf8: bytes) -> bool:
    """False when the UTF-8 text cannot contain non-ASCII white space (a few memchr scans)."""
    return not utf8.isascii() and any(lead in utf8 for lead in _UNICODE_SPACE_LEADS)


def blank_to_null(frame: pl.DataFrame, *, unicode_space: bool = True) -> pl.DataFrame:
    """Cells that are empty or hold only white space become null; other cells stay as they are.

    A blank cell starts with a character below "!" or, if `unicode_space`, at or above U+0085
    (where the non-ASCII white space lives). A cheap comparison finds the columns that have
    such a cell at all; only those get the (slower) regular expression.
    """
    if frame.height == 0:
        return frame
    suspect = pl.all() < "!"
    if unicode_space:
        suspect = suspect | (pl.all() > "\u0084")
    suspects = frame.select(suspect.any()).row(0)
    columns = [name for name, suspect in zip(frame.columns, suspects, strict=True) if suspect]
    if not columns:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_BLANK)).then(None).otherwise(pl.col(name)).alias(name)
        for name in columns
    )


def null_rows(header: list[str], count: int) -> pl.DataFrame:
    return pl.select(pl.repeat(None, count, dtype=pl.String).alias(name) for name in header)


def in_batches(frame: pl.DataFrame, batch_rows: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, batch_rows):
        yield frame.slice(offset, batch_rows)


class TrailingBlankRows:
    """Passes frames on, but holds back rows whose cells are all null until a filled row follows.

    Blank rows inside the data stay (so record numbers keep matching the file's rows); blank
    rows after the last filled row (an empty line at the end, Excel's `;;;;` rows) disappear.
    """

    def __init__(self, header: list[str], batch_rows: int) -> None:
        self._header = header
        self._batch_rows = batch_rows
        self._pending = 0

    def push(self, frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
        if frame.height == 0:
            return
        blank = frame.select(pl.all_horizontal(pl.all().is_null())).to_series()
        if not blank[-1]:
            yield from self._release()
            yield from in_batches(frame, self._batch_rows)
            return
        filled = (~blank).arg_true()
        if filled.len() == 0:
            self._pending += frame.height
            return
        last = int(filled[-1])
        yield from self._release()
        yield from in_batches(frame.head(last + 1), self._batch_rows)
        self._pending = frame.height - last - 1

    def _release(self) -> Iterator[pl.DataFrame]:
        while self._pending:
            count = min(self._pending, self._batch_rows)
            self._pending -= count
            yield null_rows(self._header, count)
