"""Cutting a byte stream into large pieces that end exactly at a record boundary.

A piece is a block read straight from the stream. Its complete records end at `end`; the bytes
after that are the start of a record the next piece begins with. For a seekable stream the next
read simply starts at `end` again, so the big block is never copied; for a stream that cannot
seek (an archive member) the short remainder is carried over in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from zorgbroker.intake.readers.dialect import last_record_end


class ByteStream(Protocol):
    def read(self, size: int, /) -> bytes: ...


class SeekableByteStream(ByteStream, Protocol):
    def seek(self, offset: int, /) -> int: ...


class RecordTooLong(Exception):
    """No record boundary within the allowed record size (or an unterminated quote)."""


@dataclass(frozen=True)
class Piece:
    data: bytes
    #: data[:end] holds whole records.
    end: int
    #: Stream offset just after data[:end].
    stream_end: int


def read_full(stream: ByteStream, size: int) -> bytes:
    """`size` bytes, fewer only at the end of the stream."""
    block = stream.read(size)
    if len(block) == size or not block:
        return block
    parts = [block]
    missing = size - len(block)
    while missing:
        more = stream.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def skip(stream: ByteStream, count: int) -> None:
    while count > 0:
        block = stream.read(min(count, 1024 * 1024))
        if not block:
            return
        count -= len(block)


class RecordReader:
    """Iterate over `Piece`s of `stream`, which is positioned at `start`, a record boundary.

    `block_bytes` may be changed between pieces (the caller sizes blocks to its row budget).
    """

    def __init__(
        self,
        stream: ByteStream,
        *,
        start: int,
        eol: bytes,
        block_bytes: int,
        max_record_bytes: int,
        seek: SeekableByteStream | None = None,
    ) -> None:
        self._stream = stream
        self._start = start
        self._eol = eol
        self.block_bytes = block_bytes
        self._max_record_bytes = max_record_bytes
        self._seek = seek

    def __iter__(self) -> Iterator[Piece]:
        position = self._start
        data = b""
        floor = 0  # line ends in data[:floor] were examined before and are no record end
        while True:
            want = max(1, self.block_bytes)
            block = read_full(self._stream, want)
            data = data + block if data else block
            if len(block) < want:
                if data:
                    yield Piece(data, len(data), position + len(data))
                return
            end = last_record_end(data, self._eol, floor)
            if end <= 0:
                if len(data) > self._max_record_bytes:
                    raise RecordTooLong
                floor = len(data)
                continue
            yield Piece(data, end, position + end)
            position += end
            floor = 0
            if self._seek is not None and end < len(data):
                self._seek.seek(position)
                data = b""
            else:
                data = data[end:]
