"""A CSV table streamed in bounded batches: raw blocks cut at record ends, parsed by Polars.

Memory stays bounded by the block size and by a row budget per parse: Polars is never asked for
more than `row_budget` rows at once (a block of blank lines would otherwise become millions of
null rows), and blocks shrink when rows turn out to be short.

Fields longer than `Limits.max_field_bytes` are passed on whole; the engine reports them
(F-005). What bounds memory is the record size: one record may span at most
`max_record_bytes(limits, chunk_bytes)` bytes (16 times the field limit, and never less than a
block). A longer record, which in practice is a quote that is never closed, makes the file
unreadable (BF-001) instead of swallowing the rest of the file into one field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import cast

import polars as pl

from zorgbroker.intake.readers import messages
from zorgbroker.intake.readers.base import Limits, ReadError
from zorgbroker.intake.readers.csv_layout import CsvLayout
from zorgbroker.intake.readers.dialect import (
    QUOTE,
    UnclosedQuote,
    quote_stray_quotes,
    split_near_middle,
)
from zorgbroker.intake.readers.direct import DirectScan
from zorgbroker.intake.readers.encoding import (
    cp1252_to_utf8,
    has_utf8_multibyte,
    incomplete_utf8_tail,
    is_valid_utf8,
)
from zorgbroker.intake.readers.frames import (
    TrailingBlankRows,
    blank_to_null,
    may_hold_unicode_space,
)
from zorgbroker.intake.readers.records import (
    ByteStream,
    Piece,
    RecordReader,
    RecordTooLong,
    SeekableByteStream,
    skip,
)

DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024
#: Cells (rows x columns) Polars may produce in one parse: 16 bytes a cell before any text.
_CELL_BUDGET = 32_000_000
#: Blocks never shrink below this (or the configured block size, if smaller).
_MIN_BLOCK_BYTES = 64 * 1024

_PolarsFailure = (pl.exceptions.PolarsError, pl.exceptions.PanicException, ValueError)


def max_record_bytes(limits: Limits, chunk_bytes: int) -> int:
    return max(chunk_bytes, 16 * limits.max_field_bytes)


@dataclass(frozen=True)
class ByteSource:
    """Where a table's bytes come from; `open` may be called again for every pass."""

    open: Callable[[], AbstractContextManager[ByteStream]]
    size: int
    seekable: bool
    #: The whole stream was checked for its encoding while its layout was learned.
    encoding_checked: bool


class CsvTable:
    def __init__(
        self,
        *,
        name: str,
        layout: CsvLayout,
        source: ByteSource,
        limits: Limits,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self.name = name
        self.header = layout.header
        self.encoding = layout.encoding
        self.bytes_total = source.size
        self.bytes_read = 0
        self._layout = layout
        self._source = source
        self._limits = limits
        self._chunk_bytes = chunk_bytes
        self._row_budget = max(2, min(limits.batch_rows, _CELL_BUDGET // len(layout.header)))
        #: Set when Polars may scan the whole file itself (see readers/direct.py).
        self.direct: DirectScan | None = None

    def batches(self) -> Iterator[pl.DataFrame]:
        self.bytes_read = 0
        parser = _ChunkParser(
            self._layout,
            table=self._table_label,
            encoding_checked=self._source.encoding_checked,
            row_budget=self._row_budget,
        )
        tail = TrailingBlankRows(self.header, self._limits.batch_rows)
        with self._source.open() as stream:
            reader = self._reader(stream)
            rows = 0
            pieces = iter(reader)
            while True:
                try:
                    piece = next(pieces)
                except StopIteration:
                    break
                except RecordTooLong:
                    raise messages.unreadable_row(
                        rows + 1,
                        'is langer dan toegestaan, of een aanhalingsteken (") wordt niet '
                        "afgesloten.",
                        table=self._table_label,
                    ) from None
                piece_rows = 0
                for frame in parser.parse(piece, rows):
                    rows += frame.height
                    piece_rows += frame.height
                    yield from tail.push(frame)
                self.bytes_read = piece.stream_end
                reader.block_bytes = self._next_block_bytes(piece.end, piece_rows)
        self.bytes_read = self.bytes_total

    @property
    def _table_label(self) -> str | None:
        return None if self.name == "main" else self.name

    def _reader(self, stream: ByteStream) -> RecordReader:
        offset = self._layout.data_offset
        seekable: SeekableByteStream | None = None
        if self._source.seekable:
            seekable = cast(SeekableByteStream, stream)
            seekable.seek(offset)
        else:
            skip(stream, offset)
        return RecordReader(
            stream,
            start=offset,
            eol=self._layout.eol,
            block_bytes=self._chunk_bytes,
            max_record_bytes=max_record_bytes(self._limits, self._chunk_bytes),
            seek=seekable,
        )

    def _next_block_bytes(self, piece_bytes: int, piece_rows: int) -> int:
        """Blocks sized to hold about 80% of the row budget, given the rows seen so far."""
        if piece_rows == 0:
            return self._chunk_bytes
        fitting = int(piece_bytes / piece_rows * self._row_budget * 0.8)
        return max(min(self._chunk_bytes, _MIN_BLOCK_BYTES), min(self._chunk_bytes, fitting))


class _ChunkParser:
    """Turns pieces of whole records into frames, splitting them when Polars cannot cope."""

    def __init__(
        self, layout: CsvLayout, *, table: str | None, encoding_checked: bool, row_budget: int
    ) -> None:
        self._table = table
        self._encoding = layout.encoding
        self._encoding_checked = encoding_checked
        self._eol = layout.eol
        self._separator = layout.separator
        self._schema: dict[str, pl.DataType] = {name: pl.String() for name in layout.header}
        self._budget = row_budget

    def parse(self, piece: Piece, rows_before: int) -> Iterator[pl.DataFrame]:
        data, end = piece.data, piece.end
        if self._encoding == "cp1252":
            raw = data if end == len(data) else data[:end]
            if not self._encoding_checked and has_utf8_multibyte(raw):
                raise messages.mixed_encoding(table=self._table, row=rows_before + 1)
            yield from self._parse_whole(
                self._literal_quotes(cp1252_to_utf8(raw), rows_before), rows_before
            )
            return
        if data.find(QUOTE, 0, end) >= 0:
            whole = data if end == len(data) else data[:end]
            literal = self._literal_quotes(whole, rows_before)
            if literal is not whole:
                yield from self._parse_whole(literal, rows_before)
                return
        if end == len(data):
            yield from self._parse_whole(data, rows_before)
            return
        if self._tail_is_one_row(data, end):
            # Parse the block as read, including the next record's beginning, and drop that
            # last row: this spares copying the block to cut it.
            frame = self._read(data)
            if frame is not None and 0 < frame.height < self._budget:
                yield self._blank_to_null(frame.slice(0, frame.height - 1), data)
                return
        yield from self._parse_whole(data[:end], rows_before)

    def _literal_quotes(self, chunk: bytes, rows_before: int) -> bytes:
        """`chunk` with its quotes inside unquoted fields made literal (the same object if it
        has none); a quoted field that never closes is BF-001 naming its row."""
        literal = quote_stray_quotes(chunk, self._separator.encode(), self._eol)
        if isinstance(literal, UnclosedQuote):
            raise messages.unreadable_row(
                rows_before + literal.records + 1,
                'heeft een aanhalingsteken (") dat een veld opent maar nooit wordt afgesloten.',
                table=self._table,
            )
        return literal

    def _parse_whole(self, chunk: bytes, rows_before: int) -> Iterator[pl.DataFrame]:
        """`chunk` holds whole records; on failure or too many rows it is halved at a record
        boundary, down to the single record that Polars cannot read."""
        pending = [chunk]
        rows = rows_before
        while pending:
            part = pending.pop()
            frame = self._read(part)
            if frame is not None and frame.height < self._budget:
                rows += frame.height
                yield self._blank_to_null(frame, part)
                continue
            cut = split_near_middle(part, self._eol)
            if cut < 0:
                if frame is None:
                    raise self._failure(part, rows + 1)
                rows += frame.height
                yield self._blank_to_null(frame, part)
                continue
            pending.append(part[cut:])
            pending.append(part[:cut])

    @staticmethod
    def _blank_to_null(frame: pl.DataFrame, chunk: bytes) -> pl.DataFrame:
        return blank_to_null(frame, unicode_space=may_hold_unicode_space(chunk))

    def _read(self, chunk: bytes) -> pl.DataFrame | None:
        try:
            return pl.read_csv(
                chunk,
                has_header=False,
                schema=self._schema,
                separator=self._separator,
                # Without quotes in the chunk, quote handling changes nothing and costs time.
                quote_char='"' if QUOTE in chunk else None,
                eol_char=self._eol.decode(),
                extra_columns="ignore",
                missing_columns="insert",
                raise_if_empty=False,
                n_rows=self._budget,
            )
        except _PolarsFailure:
            return None

    def _tail_is_one_row(self, data: bytes, end: int) -> bool:
        """Whether Polars will read data[end:] (a record cut short) as exactly one row."""
        if self._eol != b"\n":
            return False
        tail = data[end:]
        return (
            tail.count(QUOTE) % 2 == 0
            and incomplete_utf8_tail(tail) == 0
            and bool(tail.strip(b"\r"))
        )

    def _failure(self, record: bytes, row: int) -> ReadError:
        if self._encoding != "cp1252" and not is_valid_utf8(record):
            return messages.mixed_encoding(table=self._table, row=row)
        return messages.unreadable_row(
            row,
            'kan niet als CSV worden gelezen; controleer de aanhalingstekens (") in die rij.',
            table=self._table,
        )
