"""Helpers shared by the reader tests: write real files, read every batch back."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from zorgbroker.intake.readers import Limits, ReadError, Upload, open_upload


def read_table(upload: Upload, name: str = "main") -> pl.DataFrame:
    """Every batch of one table, in order, as one frame."""
    table = upload.tables[name]
    batches = list(table.batches())
    if not batches:
        return pl.DataFrame(schema=dict.fromkeys(table.header, pl.String))
    return pl.concat(batches)


def rows(frame: pl.DataFrame) -> list[tuple[str | None, ...]]:
    return frame.rows()


def open_and_read(path: Path, **options: object) -> tuple[Upload, pl.DataFrame]:
    upload = open_upload(path, **options)  # type: ignore[arg-type]
    return upload, read_table(upload)


def read_error(path: Path, *, tables: Sequence[str] | None = None, **options: object) -> ReadError:
    """The ReadError that opening (or reading every table of) `path` ends in."""
    with pytest.raises(ReadError) as caught:
        upload = open_upload(path, tables=tables, **options)  # type: ignore[arg-type]
        for name in upload.tables:
            read_table(upload, name)
    return caught.value


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def raw_zip(
    members: Sequence[tuple[str, bytes, int]],
    *,
    flags: int = 0,
    method: int = zipfile.ZIP_DEFLATED,
    crc: int | None = None,
) -> bytes:
    """A ZIP archive written byte by byte, so a test can make it lie.

    Each member is (name, stored bytes, declared uncompressed size); the stored bytes are used
    as they are (raw deflate data for ZIP_DEFLATED).
    """
    local = bytearray()
    central = bytearray()
    for name, data, declared in members:
        encoded = name.encode()
        checksum = zlib.crc32(data) if crc is None else crc
        offset = len(local)
        local += struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            20,
            flags,
            method,
            0,
            0,
            checksum,
            len(data),
            declared,
            len(encoded),
            0,
        )
        local += encoded + data
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            flags,
            method,
            0,
            0,
            checksum,
            len(data),
            declared,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += encoded
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(local), 0
    )
    return bytes(local + central + end)


def deflated_zeros(count: int, block: int = 16 * 1024 * 1024) -> bytes:
    """Raw deflate data that unpacks to `count` zero bytes, made without deflating them all:
    after a full flush the compressor forgets its history, so equal blocks give equal bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(block)
    piece = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(count, block)
    tail = compressor.compress(bytes(rest)) + compressor.flush(zlib.Z_FINISH)
    return piece * whole + tail


SMALL_LIMITS = Limits(batch_rows=3)
