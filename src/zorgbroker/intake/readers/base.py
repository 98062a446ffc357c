"""What every reader gives the check engine: tables of strings, in bounded batches.

Readers never interpret values (types, dates and code lists are the engine's work); they only
turn bytes into rows of text, and fail with a `ReadError` carrying a generic BF code and a Dutch
one-line explanation that never repeats file content.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import polars as pl

from zorgbroker.intake.report.model import FileInfo

if TYPE_CHECKING:
    from zorgbroker.intake.readers.direct import DirectScan


@dataclass(frozen=True)
class Limits:
    #: Largest upload accepted, in bytes (BF-006 above it).
    max_file_bytes: int = 8 * 1024**3
    #: Largest total uncompressed size of a ZIP archive, and largest ratio (BF-007 above).
    max_unpacked_bytes: int = 8 * 1024**3
    max_compression_ratio: int = 200
    #: Largest single field, in bytes; longer ones are flagged by the engine (F-005). CSV readers
    #: pass them on whole and bound memory by the record size instead (see readers/csv_table.py).
    max_field_bytes: int = 1024 * 1024
    #: Rows per batch handed to the engine; bounds memory for large files.
    batch_rows: int = 500_000


class ReadError(Exception):
    """The file cannot be read as a table at all: the whole file is rejected."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        table: str | None = None,
        info: FileInfo | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code  # e.g. "BF-001"
        self.message = message  # Dutch, one line, no file content
        self.table = table
        #: What is known about the rejected file (name, sha256, size, format), so a report can
        #: still describe it; set by `open_upload` whenever the file could be opened at all.
        self.info = info


@dataclass(frozen=True)
class FileWarning:
    code: str  # e.g. "BW-002"
    message: str  # Dutch
    table: str | None = None


class Table(Protocol):
    name: str
    #: Column names exactly as in the file's header (stripped of surrounding white space).
    header: list[str]
    #: Progress of `batches()` in bytes of this table's source (for a progress bar): how far it
    #: has read, out of how many. Both count the same bytes; `bytes_read` ends at `bytes_total`.
    bytes_read: int
    bytes_total: int
    #: A plain CSV file that Polars can scan itself in one streaming query, or None.
    direct: DirectScan | None

    def batches(self) -> Iterator[pl.DataFrame]:
        """Data rows as frames whose columns are all pl.String, named as `header`.

        Empty cells are null. Batches are at most `Limits.batch_rows` rows.

        Raises `ReadError` when a problem only shows up while streaming (a malformed row
        halfway through a large file, an archive member that unpacks larger than it declared):
        the whole file is then rejected, just as if `open_upload` had raised it.
        """
        ...


@dataclass
class Upload:
    info: FileInfo
    #: Tables by name: the single table of a CSV/XLSX upload is named "main"; tables of a ZIP are
    #: named by file name without ".csv"; sheets of a multi-table XLSX by sheet name.
    tables: dict[str, Table]
    warnings: list[FileWarning] = field(default_factory=list)
    #: Total bytes the tables will read (the sum of their `bytes_total`), for a progress bar.
    progress_total: int = 0

    @property
    def progress_done(self) -> int:
        """Bytes read so far over all tables (readers update it as batches are yielded)."""
        return sum(table.bytes_read for table in self.tables.values())
