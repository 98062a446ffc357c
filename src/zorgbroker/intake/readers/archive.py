"""ZIP containers (uploaded archives and XLSX workbooks alike): safety checks and member streams.

Nothing is ever extracted to disk. Before a single member is unpacked the central directory is
checked: member count, declared sizes against the unpack limit, compression ratios, encryption,
path tricks and nested archives (BF-007). While streaming, a member that unpacks to more than it
declared is stopped as well, since declared sizes can lie.
"""

from __future__ import annotations

import lzma
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from zorgbroker.intake.readers import messages
from zorgbroker.intake.readers.base import Limits

MAX_ARCHIVE_MEMBERS = 1_000
MAX_WORKBOOK_MEMBERS = 10_000
#: Members smaller than this cannot be a bomb, whatever their ratio (tiny files compress oddly).
_RATIO_FLOOR_BYTES = 1024 * 1024
_NESTED_ARCHIVE = re.compile(
    r"\.(zip|xlsx|xlsm|xlsb|xls|ods|gz|tgz|tar|7z|rar|bz2|xz|zst|jar|cab)$", re.IGNORECASE
)
_DRIVE = re.compile(r"^[A-Za-z]:")
#: Operating-system litter that is neither data nor worth a warning.
_LITTER = frozenset({"thumbs.db", "desktop.ini", ".ds_store"})

ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
    OverflowError,
)

_DAMAGED = "het ZIP-archief is beschadigd of onvolledig."


def declared_entries(path: Path) -> int | None:
    """The member count the archive's end record declares, read without parsing the directory
    (which for a hostile archive could hold millions of entries)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            tail_size = min(size, 22 + 0xFFFF)
            file.seek(size - tail_size)
            tail = file.read(tail_size)
            at = tail.rfind(b"PK\x05\x06")
            if at < 0 or at + 22 > len(tail):
                return None
            entries = int.from_bytes(tail[at + 10 : at + 12], "little")
            if entries != 0xFFFF:
                return entries
            locator = tail[at - 20 : at] if at >= 20 else b""
            if not locator.startswith(b"PK\x06\x07"):
                return None
            file.seek(int.from_bytes(locator[8:16], "little"))
            record = file.read(56)
            if not record.startswith(b"PK\x06\x06") or len(record) < 56:
                return None
            return int.from_bytes(record[32:40], "little")
    except OSError:
        return None


def open_archive(path: Path, *, max_members: int) -> zipfile.ZipFile:
    entries = declared_entries(path)
    if entries is not None and entries > max_members:
        raise messages.unsafe_archive(
            f"het archief bevat {entries} bestanden, meer dan de {max_members} toegestaan."
        )
    try:
        return zipfile.ZipFile(path)
    except ZIP_ERRORS:
        raise messages.unreadable(_DAMAGED) from None


def check_container(
    archive: zipfile.ZipFile, limits: Limits, *, max_members: int, allow_nested: bool
) -> None:
    members = archive.infolist()
    if len(members) > max_members:
        raise messages.unsafe_archive(
            f"het archief bevat {len(members)} bestanden, meer dan de {max_members} toegestaan."
        )
    seen: set[str] = set()
    total = 0
    for member in members:
        name = member.filename
        if not name:
            raise messages.unreadable(_DAMAGED)
        if member.flag_bits & 0x1:
            raise messages.unsafe_archive("het archief bevat versleutelde bestanden.")
        if _escapes(name):
            raise messages.unsafe_archive(
                "een bestandsnaam in het archief wijst buiten het archief."
            )
        if stat.S_ISLNK(member.external_attr >> 16):
            raise messages.unsafe_archive("het archief bevat een snelkoppeling (symlink).")
        if name in seen:
            raise messages.unsafe_archive("het archief bevat twee bestanden met dezelfde naam.")
        seen.add(name)
        if not allow_nested and _NESTED_ARCHIVE.search(name):
            raise messages.unsafe_archive("het archief bevat een ander archief of werkmap.")
        if (
            member.file_size > _RATIO_FLOOR_BYTES
            and member.file_size > limits.max_compression_ratio * max(member.compress_size, 1)
        ):
            raise messages.unsafe_archive(
                "een bestand in het archief is verdacht sterk gecomprimeerd (meer dan "
                f"{limits.max_compression_ratio} keer); mogelijk een zip-bom."
            )
        total += member.file_size
    if total > limits.max_unpacked_bytes:
        raise messages.unsafe_archive(
            f"uitgepakt zou het archief {total / 1024**2:.0f} MB zijn, meer dan de "
            f"{limits.max_unpacked_bytes / 1024**2:.0f} MB toegestaan."
        )


def _escapes(name: str) -> bool:
    path = name.replace("\\", "/")
    return path.startswith("/") or bool(_DRIVE.match(path)) or ".." in path.split("/")


@dataclass
class MemberChoice:
    """Which archive members hold which table, and what else the archive held."""

    tables: dict[str, zipfile.ZipInfo] = field(default_factory=dict)
    extras: list[str] = field(default_factory=list)


def base_name(member: zipfile.ZipInfo) -> str | None:
    """The member's file name without folders, or None for folders and operating-system litter
    (macOS `__MACOSX` forks, dot-files, Thumbs.db)."""
    if member.is_dir():
        return None
    parts = member.filename.replace("\\", "/").split("/")
    name = parts[-1]
    if not name or "__MACOSX" in parts or name.startswith(".") or name.lower() in _LITTER:
        return None
    return name


def choose_members(
    archive: zipfile.ZipFile, tables: Sequence[str] | None, *, dataset: str | None = None
) -> MemberChoice:
    """Match `<table>.csv` members to the wanted tables (folders and letter case ignored).

    With `tables=None` the archive must hold exactly one CSV file, which becomes table "main";
    otherwise it is no file of this dataset (BF-004, naming `dataset` if given).
    """
    choice = MemberChoice()
    wanted = {table.casefold(): table for table in tables} if tables is not None else None
    csv_members: list[zipfile.ZipInfo] = []
    for member in archive.infolist():
        name = base_name(member)
        if name is None:
            continue
        stem, dot, suffix = name.rpartition(".")
        is_csv = bool(dot) and suffix.lower() == "csv"
        if wanted is None:
            if is_csv:
                csv_members.append(member)
            else:
                choice.extras.append(name)
            continue
        table = wanted.get(stem.casefold()) if is_csv else None
        if table is None:
            choice.extras.append(name)
        elif table in choice.tables:
            raise messages.unreadable(
                f"tabel '{table}' staat twee keer in het archief.", table=table
            )
        else:
            choice.tables[table] = member
    if wanted is None:
        if len(csv_members) != 1:
            found = "geen" if not csv_members else str(len(csv_members))
            raise messages.wrong_layout(
                "één CSV- of XLSX-bestand, of een ZIP-archief met precies één CSV-bestand",
                f"dit ZIP-archief bevat {found} CSV-bestanden",
                dataset=dataset,
            )
        choice.tables["main"] = csv_members[0]
    return choice


class MemberStream:
    """A member's unpacked bytes, stopped as soon as they exceed what the archive declared."""

    def __init__(self, raw: IO[bytes], *, declared: int, table: str | None) -> None:
        self._raw = raw
        self._declared = declared
        self._table = table
        self._count = 0

    def read(self, size: int, /) -> bytes:
        try:
            block = self._raw.read(size)
        except ZIP_ERRORS:
            raise messages.unreadable(_DAMAGED, table=self._table) from None
        self._count += len(block)
        if self._count > self._declared:
            raise messages.unsafe_archive(
                "een bestand in het archief pakt groter uit dan het archief opgeeft."
            )
        return block


@contextmanager
def open_member(
    path: Path, member: zipfile.ZipInfo, *, table: str | None
) -> Iterator[MemberStream]:
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_ERRORS:
        raise messages.unreadable(_DAMAGED, table=table) from None
    with archive:
        try:
            raw = archive.open(member)
        except NotImplementedError:
            raise messages.unknown_format(
                "het archief gebruikt een compressiemethode die niet wordt ondersteund; "
                "gebruik gewone ZIP-compressie (deflate)."
            ) from None
        except ZIP_ERRORS:
            raise messages.unreadable(_DAMAGED, table=table) from None
        with raw:
            yield MemberStream(raw, declared=member.file_size, table=table)
