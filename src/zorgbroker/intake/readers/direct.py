"""Letting Polars scan a plain CSV file itself, in one streaming query over the whole file.

The batch reader (csv_table.py) cuts a file into blocks in Python and copes with everything an
export can throw at it: quotes left open, line breaks inside quotes, Windows-1252, records of
megabytes. Most exports are simpler: UTF-8, one record per line. For those, a scan by Polars
reads every row exactly as the batch reader would (both hand the same lines to the same Polars
CSV parser), and the check runs as one query that keeps both cores busy from the first byte to
the last.

`DirectProbe` decides this during the pass that hashes the file, from the raw bytes: a line with
an odd number of quotes (a record that spans lines, or a quote never closed) or a line longer
than a block sends the file to the batch reader. It also says whether any cell can have white
space around it; a file where none can skips trimming, which is a good part of a check's cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from zorgbroker.lazy_numpy import numpy_module

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


_SPACE, _LF, _CR, _QUOTE = 0x20, 0x0A, 0x0D, 0x22
_QUOTE_CHAR = '"'
#: ASCII white space other than the space, line feed and carriage return.
_OTHER_ASCII_SPACE = (b"\t", b"\x0b", b"\x0c")


@dataclass(frozen=True)
class DirectScan:
    """A UTF-8 CSV file on disk that Polars can scan itself, header on the first line."""

    path: Path
    separator: str
    header: list[str]
    #: Some cell may begin or end with white space (or hold nothing else).
    padded: bool
    #: The file has quote characters (every line an even number of them).
    quoted: bool
    #: The file's size and its average line length (from the first block), for progress.
    size: int
    line_bytes: float

    def sample(self, rows: int) -> pl.DataFrame:
        """About the first `rows` data rows (for choosing the date format), read from the file's
        first bytes: a scan would look at far more of the file to get them."""
        with self.path.open("rb") as file:
            head = file.read(int(max(self.line_bytes, 1.0) * (rows + 1) * 2) + 65536)
        end = head.rfind(b"\n")
        return pl.read_csv(head[: end + 1] if end >= 0 else head, n_rows=rows, **self._options())

    def scan(self) -> pl.LazyFrame:
        return pl.scan_csv(self.path, glob=False, **self._options())

    def _options(self) -> dict[str, Any]:
        """How both readings parse the file: every cell text, as the batch reader reads it."""
        return {
            "has_header": False,
            "skip_lines": 1,
            "schema": {name: pl.String for name in self.header},
            "separator": self.separator,
            "quote_char": _QUOTE_CHAR if self.quoted else None,
            "extra_columns": "ignore",
            "missing_columns": "insert",
            "raise_if_empty": False,
        }


class DirectProbe:
    """Fed the raw blocks of a file in order (with its separator, once the header is known)."""

    def __init__(self, block_bytes: int) -> None:
        self._block_bytes = block_bytes
        self.eligible = True
        self.padded = False
        self.quoted = False
        self.line_bytes = 0.0
        self._last = b""
        #: Whether the line the last block ended in has an odd number of quotes so far.
        self._open_quote = False

    def feed(self, block: bytes, separator: str | None) -> None:
        if not self.eligible or not block:
            return
        if separator is None:
            self.eligible = False
            return
        if b"\n" not in block and len(block) >= self._block_bytes:
            # A line longer than a block: the batch reader bounds such records.
            self.eligible = False
            return
        if b'"' in block:
            # Quoted cells are read alike as long as no record spans lines: with an odd number
            # of quotes in a line (a line break inside quotes, or a quote never closed), the
            # batch reader's record tracking decides.
            self.quoted = True
            still_open = _open_quote_after(block, self._open_quote)
            if still_open is None:
                self.eligible = False
                return
            self._open_quote = still_open
        if not self.line_bytes:
            self.line_bytes = len(block) / max(1, block.count(b"\n"))
        if not self.padded:
            self.padded = self._padded(block, ord(separator))
        self._last = block[-1:]

    def finish(self) -> None:
        if self._open_quote:
            self.eligible = False
        if self._last in (b" ", b"\r"):
            self.padded = True

    def _padded(self, block: bytes, sep: int) -> bool:
        if any(space in block for space in _OTHER_ASCII_SPACE if space[0] != sep):
            return True
        edge = self._last + block[:1]
        if len(edge) == 2 and _padding_edge(edge[0], edge[1], sep):
            return True
        if len(block) < _SMALL_BLOCK_BYTES:
            return _padded_small(block, sep)
        return _padded_large(block, sep)


#: Below this, plain byte searches are quick enough and spare loading NumPy (tens of ms).
_SMALL_BLOCK_BYTES = 4 * 1024 * 1024

#: UTF-8 encodings of the non-ASCII white space (U+0085, U+00A0, U+1680, U+2000 to U+200A,
#: U+2028, U+2029, U+202F, U+205F, U+3000), by lead byte: the bytes that follow it.
_UNICODE_SPACES: dict[int, list[bytes]] = {
    0xC2: [b"\x85", b"\xa0"],
    0xE1: [b"\x9a\x80"],
    0xE2: [bytes([0x80, last]) for last in (*range(0x80, 0x8B), 0xA8, 0xA9, 0xAF)] + [b"\x81\x9f"],
    0xE3: [b"\x80\x80"],
}


def _padded_small(block: bytes, sep: int) -> bool:
    """`_padded_large` by substring searches: each costs a pass, cheap for a small block."""
    if not block.isascii():
        for lead, tails in _UNICODE_SPACES.items():
            start = bytes([lead])
            if start in block and (
                block.endswith(start) or any(start + tail in block for tail in tails)
            ):
                return True
    if block.count(b"\r") != block.count(b"\r\n"):
        return True
    separator, space = bytes([sep]), b" "
    pairs = [separator + space, space + separator, b"\n ", b" \n", b" \r"]
    if b'"' in block:
        pairs += [b'" ', b' "']  # a quoted cell's edge
    return any(pair in block for pair in pairs)


def _padded_large(block: bytes, sep: int) -> bool:
    """Whether a cell in the block can begin or end with white space: a space next to a
    separator or line end, a carriage return not ending a line, or any non-ASCII white space.
    Vectorised over the block's bytes: a substring search per pattern would cost more than the
    whole check (spaces are common in names)."""
    np = numpy_module()  # only for large files, where its loading time is paid back

    data = np.frombuffer(block, dtype=np.uint8)
    if not block.isascii() and _has_unicode_space(block, data):
        return True
    if b"\r" in block:
        # Polars drops a carriage return at the end of a line; one elsewhere is a cell's.
        cr = np.flatnonzero(data[:-1] == _CR)
        if cr.size and bool(np.any(data[cr + 1] != _LF)):
            return True
    spaces = np.flatnonzero(data == _SPACE)
    if spaces.size == 0:
        return False
    before = data[spaces[spaces > 0] - 1]
    after = data[spaces[spaces < data.size - 1] + 1]
    return bool(
        np.any((before == sep) | (before == _LF) | (before == _QUOTE))
        or np.any((after == sep) | (after == _LF) | (after == _CR) | (after == _QUOTE))
    )


def _has_unicode_space(block: bytes, data: NDArray[np.uint8]) -> bool:
    """Whether the block holds non-ASCII white space. Each lead byte is looked for with memchr
    first; the few places it occurs (accented names) are then compared whole."""
    np = numpy_module()

    for lead, tails in _UNICODE_SPACES.items():
        if bytes([lead]) not in block:
            continue
        at = np.flatnonzero(data == lead)
        if at.size and at[-1] >= data.size - 3:
            return True  # a character cut by the block's end: assume the worst
        for tail in tails:
            ok = at[at + len(tail) < data.size]
            match = np.ones(ok.size, dtype=bool)
            for k, byte in enumerate(tail, start=1):
                match &= data[ok + k] == byte
            if match.any():
                return True
    return False


def _open_quote_after(block: bytes, open_quote: bool) -> bool | None:
    """Whether the line the block ends in has an odd number of quotes (`open_quote`: the line
    it starts in had so far), or None when a line ending in the block has an odd number."""
    if len(block) < _SMALL_BLOCK_BYTES:
        *whole, rest = block.split(b"\n")
        for line in whole:
            if bool(line.count(b'"') & 1) is not open_quote:
                return None
            open_quote = False
        return bool(rest.count(b'"') & 1) is not open_quote
    np = numpy_module()

    data = np.frombuffer(block, dtype=np.uint8)
    # Quotes counted from the block's start; only the parity matters, so uint8 may wrap.
    counted = np.cumsum(data == _QUOTE, dtype=np.uint8) & 1
    ends = np.flatnonzero(data == _LF)
    # Every line is balanced exactly when the count's parity at each line end equals that of
    # the quotes the first line brought along.
    if bool(np.any(counted[ends] != int(open_quote))):
        return None
    return bool(int(counted[-1]) ^ int(open_quote))


def _padding_edge(first: int, second: int, sep: int) -> bool:
    """Whether two adjacent bytes (the last of one block, the first of the next) put white space
    at the edge of a cell: a space after a cell's start or before its end, or a bare CR."""
    if first == _CR and second != _LF:
        return True
    if second == _SPACE and first in (sep, _LF, _QUOTE):
        return True
    return first == _SPACE and second in (sep, _LF, _CR, _QUOTE)
