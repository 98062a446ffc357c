"""What every reader gives the check engine: tables of strings, in bounded batches.

Readers never interpret values (types, dates and code lists are the engine's work); they only
turn bytes into rows of text, and fail with a `ReadError` carrying a generic BF code and a Dutch
one-line explanation that never repeats file content.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import polars as pl

from zorgbroker.intake.report.model import FileInfo


@dataclass(frozen=True)
class Limits:
    #: Largest upload accepted, in bytes (BF-006 above it).
    max_file_bytes: int = 8 * 1024**3
    #: Largest total uncompressed size of a ZIP archive, and largest ratio (BF-007 above).
    max_unpacked_bytes: int = 8 * 1024**3
    max_compression_ratio: int = 200
    #: Largest single field, in bytes; longer ones are cut for checking and flagged by the engine.
    max_field_bytes: int = 1024 * 1024
    #: Rows per batch handed to the engine; bounds memory for large files.
    batch_rows: int = 500_000


class ReadError(Exception):
    """The file cannot be read as a table at all: the whole file is rejected."""

    def __init__(self, code: str, message: str, *, table: str | None = None) -> None:
        super().__init__(message)
        self.code = code  # e.g. "BF-001"
        self.message = message  # Dutch, one line, no file content
        self.table = table


@dataclass(frozen=True)
class FileWarning:
    code: str  # e.g. "BW-002"
    message: str  # Dutch
    table: str | None = None


class Table(Protocol):
    name: str
    #: Column names exactly as in the file's header (stripped of surrounding white space).
    header: list[str]

    def batches(self) -> Iterator[pl.DataFrame]:
        """Data rows as frames whose columns are all pl.String, named as `header`.

        Empty cells are null. Batches are at most `Limits.batch_rows` rows.
        """
        ...


@dataclass
class Upload:
    info: FileInfo
    #: Tables by name: the single table of a CSV/XLSX upload is named "main"; tables of a ZIP are
    #: named by file name without ".csv"; sheets of a multi-table XLSX by sheet name.
    tables: dict[str, Table]
    warnings: list[FileWarning] = field(default_factory=list)
    #: Bytes read so far, for a progress bar (readers update it as they go).
    progress_total: int = 0
