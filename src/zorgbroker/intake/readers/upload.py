"""`open_upload`: from an uploaded file to named tables of text, or a ReadError saying why not.

Opening reads a plain CSV file once, in large blocks, to hash it (on a second thread) and to
learn its layout and encoding from its first part; the rows themselves are only parsed later,
batch by batch, when the engine asks, and an encoding clash further on (BF-009) surfaces then.
Archives and workbooks are hashed, checked for safety from their directory, and their members
sniffed just far enough to know their layout.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

from zorgbroker.intake.readers import messages
from zorgbroker.intake.readers.archive import (
    MAX_ARCHIVE_MEMBERS,
    MAX_WORKBOOK_MEMBERS,
    check_container,
    choose_members,
    open_archive,
    open_member,
)
from zorgbroker.intake.readers.base import FileWarning, Limits, ReadError, Table, Upload
from zorgbroker.intake.readers.csv_layout import CsvLayout, CsvScan
from zorgbroker.intake.readers.csv_table import DEFAULT_CHUNK_BYTES, ByteSource, CsvTable
from zorgbroker.intake.readers.direct import DirectProbe, DirectScan
from zorgbroker.intake.readers.records import read_full
from zorgbroker.intake.readers.sniff import SNIFF_BYTES, ZIP_MAGICS, sniff
from zorgbroker.intake.readers.xlsx import open_workbook_tables
from zorgbroker.intake.report.model import FileInfo

#: Block size of the opening pass (hash, layout); smaller than a parse block, as nothing
#: downstream gains from more.
_SCAN_BLOCK_BYTES = 16 * 1024 * 1024


def open_upload(
    path: Path,
    *,
    tables: Sequence[str] | None = None,
    limits: Limits = Limits(),
    display_name: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    dataset: str | None = None,
) -> Upload:
    """Open an uploaded CSV, XLSX or ZIP file as tables of text.

    `tables=None` asks for one table, "main": a CSV file, the first visible sheet of a workbook,
    or the only CSV file in a ZIP archive. With `tables`, each name is looked for as
    `<name>.csv` in a ZIP archive (folders and letter case ignored) or as a sheet of a workbook;
    tables that are absent are simply not in the result (the engine reports them), unknown
    members give a BW-001 warning. `chunk_bytes` sets how much raw CSV is parsed at a time.
    `dataset` only names the dataset in the message about a file of the wrong layout.

    Raises ReadError (with `info` set whenever the file could be opened) for anything that
    makes the whole file unusable.
    """
    name = display_name or path.name
    try:
        return _open(path, name, tables, limits, chunk_bytes, dataset)
    except OSError:
        raise messages.unreadable("het bestand kan niet worden geopend of gelezen.") from None


def _open(
    path: Path,
    name: str,
    tables: Sequence[str] | None,
    limits: Limits,
    chunk_bytes: int,
    dataset: str | None,
) -> Upload:
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        # Rejected before its content is read, so without a hash.
        raise _with_info(messages.too_large(size, limits.max_file_bytes), name, "", size)
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
    try:
        kind = sniff(head)
    except ReadError as error:
        raise _with_info(error, name, _sha256(path), size) from None
    if kind == "zip":
        return _open_container(path, name, size, tables, limits, chunk_bytes, dataset)
    return _open_csv_file(path, name, size, tables, limits, chunk_bytes, dataset)


def _with_info(
    error: ReadError,
    name: str,
    sha256: str,
    size: int,
    file_format: str = "unknown",
) -> ReadError:
    if error.info is None:
        error.info = FileInfo(name, sha256, size, file_format, None)
    return error


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as file:
        while block := file.read(_SCAN_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


# --- a plain CSV file ----------------------------------------------------------------------


def _open_csv_file(
    path: Path,
    name: str,
    size: int,
    tables: Sequence[str] | None,
    limits: Limits,
    chunk_bytes: int,
    dataset: str | None,
) -> Upload:
    scan = CsvScan(table=None, require_rows=tables is None)
    block_bytes = min(chunk_bytes, _SCAN_BLOCK_BYTES)
    probe = DirectProbe(block_bytes)
    sha256, problem, whole = _hash_and_scan(path, scan, probe, block_bytes)
    try:
        table = _csv_table_name(name, tables, dataset)
        if problem is not None:
            raise problem
        layout = scan.finish(at_end=whole)
    except ReadError as error:
        raise _with_info(error, name, sha256, size, "csv") from None
    probe.finish()
    direct = None
    if probe.eligible and layout.eol == b"\n" and layout.encoding != "cp1252":
        direct = DirectScan(
            path=path,
            separator=layout.separator,
            header=layout.header,
            padded=probe.padded,
            quoted=probe.quoted,
            size=size,
            line_bytes=probe.line_bytes,
        )
    source = ByteSource(
        open=partial(_open_raw, path), size=size, seekable=True, encoding_checked=whole
    )
    csv_table = CsvTable(
        name=table, layout=layout, source=source, limits=limits, chunk_bytes=chunk_bytes
    )
    csv_table.direct = direct
    return Upload(
        info=FileInfo(name, sha256, size, "csv", layout.encoding),
        tables={table: csv_table},
        warnings=_encoding_warnings({table: layout}, single=tables is None),
        progress_total=size,
    )


def _csv_table_name(name: str, tables: Sequence[str] | None, dataset: str | None) -> str:
    """A lone CSV file is "main", or (for a multi-table dataset) the table its name says."""
    if tables is None:
        return "main"
    stem = name.rpartition(".")[0] or name
    for table in tables:
        if table.casefold() == stem.strip().casefold():
            return table
    raise messages.wrong_layout(
        f"een ZIP-archief met de tabellen {_listed(tables)} als CSV-bestanden, of een "
        "Excel-werkmap met een werkblad per tabel",
        "dit is één CSV-bestand dat niet naar een van die tabellen heet",
        dataset=dataset,
    )


def _listed(names: Sequence[str]) -> str:
    """'a, b en c'."""
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} en {names[-1]}"


def _open_raw(path: Path) -> io.FileIO:
    return io.FileIO(path, "r")


def _hash_and_scan(
    path: Path, scan: CsvScan, probe: DirectProbe, block_bytes: int
) -> tuple[str, ReadError | None, bool]:
    """One pass over the file: the hash on a worker thread (hashlib releases the GIL), and here
    the layout scan until it is `complete` (the rest of the encoding check happens while
    parsing, where Polars validates UTF-8 anyway) and the direct-scan probe (NumPy releases the
    GIL too).

    Returns the hash, a scan problem (returned rather than raised, after hashing the rest, so
    the rejection can still name the file's hash) and whether the scan saw the whole file.
    """
    digest = hashlib.sha256()
    problem: ReadError | None = None
    scanning = True
    with ThreadPoolExecutor(max_workers=1) as worker, _open_raw(path) as file:
        hashing: Future[None] | None = None
        while block := read_full(file, block_bytes):
            if hashing is not None:
                hashing.result()
            hashing = worker.submit(digest.update, block)
            if scanning:
                try:
                    scan.feed(block)
                except ReadError as error:
                    problem = error
                scanning = problem is None and not scan.complete
            probe.feed(block, scan.separator)
        if hashing is not None:
            hashing.result()
    return digest.hexdigest(), problem, scanning


def _encoding_warnings(layouts: dict[str, CsvLayout], *, single: bool) -> list[FileWarning]:
    return [
        messages.not_utf8(table=None if single else table)
        for table, layout in layouts.items()
        if layout.encoding == "cp1252"
    ]


# --- ZIP archives and XLSX workbooks -------------------------------------------------------


def _open_container(
    path: Path,
    name: str,
    size: int,
    tables: Sequence[str] | None,
    limits: Limits,
    chunk_bytes: int,
    dataset: str | None,
) -> Upload:
    sha256 = _sha256(path)
    file_format = "zip"
    try:
        with open_archive(path, max_members=MAX_WORKBOOK_MEMBERS) as archive:
            names = {member.lower() for member in archive.namelist()}
            _refuse_other_office_formats(names)
            if "xl/workbook.xml" in names:
                file_format = "xlsx"
                check_container(
                    archive, limits, max_members=MAX_WORKBOOK_MEMBERS, allow_nested=True
                )
                found, warnings = open_workbook_tables(
                    path, archive, tables=tables, limits=limits, size=size
                )
                return Upload(
                    info=FileInfo(name, sha256, size, "xlsx", None),
                    tables=found,
                    warnings=warnings,
                    progress_total=sum(table.bytes_total for table in found.values()),
                )
            check_container(archive, limits, max_members=MAX_ARCHIVE_MEMBERS, allow_nested=False)
            return _open_archive_tables(
                path, archive, name, sha256, size, tables, limits, chunk_bytes, dataset
            )
    except ReadError as error:
        raise _with_info(error, name, sha256, size, file_format) from None


def _refuse_other_office_formats(names: set[str]) -> None:
    if "xl/workbook.bin" in names:
        raise messages.unknown_format(
            "binaire Excel-werkmappen (.xlsb) worden niet ondersteund; sla op als .xlsx of CSV."
        )
    if "content.xml" in names and "mimetype" in names:
        raise messages.unknown_format(
            "OpenDocument-bestanden (.ods) worden niet ondersteund; sla op als .xlsx of CSV."
        )


def _open_archive_tables(
    path: Path,
    archive: zipfile.ZipFile,
    name: str,
    sha256: str,
    size: int,
    tables: Sequence[str] | None,
    limits: Limits,
    chunk_bytes: int,
    dataset: str | None,
) -> Upload:
    choice = choose_members(archive, tables, dataset=dataset)
    layouts: dict[str, CsvLayout] = {}
    found: dict[str, Table] = {}
    for table in tables if tables is not None else ["main"]:
        member = choice.tables.get(table)
        if member is None:
            continue
        label = None if tables is None else table
        layout, checked = _member_layout(
            path, member, label, require_rows=tables is None, block_bytes=chunk_bytes
        )
        layouts[table] = layout
        source = ByteSource(
            open=partial(open_member, path, member, table=label),
            size=member.file_size,
            seekable=False,
            encoding_checked=checked,
        )
        found[table] = CsvTable(
            name=table, layout=layout, source=source, limits=limits, chunk_bytes=chunk_bytes
        )
    first_encoding = next(iter(layouts.values())).encoding if layouts else None
    warnings = [messages.extra_member(extra) for extra in choice.extras]
    warnings += _encoding_warnings(layouts, single=tables is None)
    return Upload(
        info=FileInfo(name, sha256, size, "zip", first_encoding),
        tables=found,
        warnings=warnings,
        progress_total=sum(table.bytes_total for table in found.values()),
    )


def _member_layout(
    path: Path,
    member: zipfile.ZipInfo,
    table: str | None,
    *,
    require_rows: bool,
    block_bytes: int,
) -> tuple[CsvLayout, bool]:
    """A member's layout, and whether its whole content was checked for the encoding.

    The member is unpacked only until its layout is certain; whatever it holds further on is
    checked again while its batches are read.
    """
    scan = CsvScan(table=table, require_rows=require_rows)
    whole = True
    with open_member(path, member, table=table) as stream:
        head = read_full(stream, SNIFF_BYTES)
        if head.startswith(ZIP_MAGICS):
            raise messages.unsafe_archive("het archief bevat een ander archief of werkmap.")
        try:
            sniff(head)
        except ReadError as error:
            error.table = table
            raise
        block = head
        while block:
            scan.feed(block)
            if scan.complete:
                whole = False
                break
            block = stream.read(min(block_bytes, _SCAN_BLOCK_BYTES))
    return scan.finish(at_end=whole), whole
