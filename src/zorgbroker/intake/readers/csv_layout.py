"""Learning a CSV stream's layout in one pass: encoding, line ending, separator, header.

The scan is fed the stream's blocks in order (the same pass that hashes an uploaded file), keeps
only the first line in memory, and can tell when it has seen enough to stop early.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zorgbroker.intake.readers import dialect, messages
from zorgbroker.intake.readers.encoding import UTF8_BOM, Encoding, EncodingScan, decode_text

#: Enough of the file to see whether it ends lines with \n at all.
_EOL_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class CsvLayout:
    encoding: Encoding
    header: list[str]
    separator: str
    eol: bytes
    #: Offset of the first byte after the header line (and the BOM) in the raw stream.
    data_offset: int


class CsvScan:
    """Feed blocks in order with `feed`, then call `finish` for the layout (or a ReadError)."""

    def __init__(self, *, table: str | None = None, require_rows: bool = True) -> None:
        self._table = table
        self._require_rows = require_rows
        self.encoding = EncodingScan()
        self._prefix = bytearray()
        self._header_line: bytes | None = None
        self._eol = b"\n"
        self._separator = ";"
        self._data_offset = 0
        self._data_pattern = _data_pattern(self._separator)
        self.has_data = False

    @property
    def separator(self) -> str | None:
        """The separator, once the header line has been found."""
        return None if self._header_line is None else self._separator

    @property
    def complete(self) -> bool:
        """Nothing later in the stream can change the layout (apart from a late encoding clash,
        which the table reader still catches while streaming)."""
        return self.has_data and self.encoding.seen_non_ascii

    def feed(self, block: bytes) -> None:
        self.encoding.feed(block)
        if self._header_line is None:
            self._prefix += block
            # Only a line end (or enough bytes to give up on finding one) can settle the header.
            if b"\n" in block or b"\r" in block or len(self._prefix) > _EOL_SNIFF_BYTES:
                self._find_header(at_end=False)
        elif not self.has_data:
            self._look_for_data(block)

    def finish(self, *, at_end: bool = True) -> CsvLayout:
        """The layout; `at_end=False` when feeding stopped early because `complete` was true."""
        if self._header_line is None:
            self._find_header(at_end=at_end)
        line = self._header_line or b""
        if not line.strip():
            raise messages.no_data(table=self._table)
        if self._require_rows and not self.has_data:
            raise messages.no_data(table=self._table)
        encoding = self.encoding.finish(at_end=at_end)
        if encoding is None:
            raise messages.mixed_encoding(table=self._table)
        cells = dialect.parse_header(
            decode_text(line, encoding), self._separator, table=self._table
        )
        return CsvLayout(
            encoding=encoding,
            header=dialect.column_names(cells, table=self._table),
            separator=self._separator,
            eol=self._eol,
            data_offset=self._data_offset,
        )

    def _find_header(self, *, at_end: bool) -> None:
        prefix = bytes(self._prefix)
        start = len(UTF8_BOM) if prefix.startswith(UTF8_BOM) else 0
        if not at_end and b"\n" not in prefix and len(prefix) < _EOL_SNIFF_BYTES:
            return
        self._eol = dialect.detect_eol(prefix)
        end = dialect.first_record_end(prefix, self._eol, start)
        if end < 0:
            if not at_end:
                if len(prefix) > dialect.MAX_HEADER_BYTES:
                    raise messages.unreadable(
                        "de eerste regel is langer dan 1 MB; dit is geen tabel met een kopregel.",
                        table=self._table,
                    )
                return
            end = len(prefix)
        self._header_line = prefix[start:end]
        self._separator = dialect.detect_separator(self._header_line)
        self._data_offset = end
        self._data_pattern = _data_pattern(self._separator)
        self._prefix = bytearray()
        self._look_for_data(prefix[end:])

    def _look_for_data(self, data: bytes) -> None:
        if self._data_pattern.search(data):
            self.has_data = True


def _data_pattern(separator: str) -> re.Pattern[bytes]:
    """Any byte that makes a row more than separators and white space. (A quote may still
    only open an empty field; such rows come out blank and the engine finds no records.)"""
    return re.compile(rb"[^\s" + re.escape(separator.encode()) + rb"]")
