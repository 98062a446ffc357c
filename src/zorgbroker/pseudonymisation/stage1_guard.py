"""A first gate at the registry's door: can the body that is arriving be a stage-1 file at all?

The registry side may never write a BSN, name or full birth date, not even to a temporary file
it deletes a moment later. A raw export posted by mistake must therefore be refused from the
first few KB of its body, before anything of it is written. `Stage1Guard` is fed the body's
chunks as they arrive and holds at most `MAX_HEAD_BYTES` of them; it answers "wait for more",
"this can be a stage-1 file" (the caller may now write it, the held bytes first) or refuses with
BF-020 as `stage1_reader` does. It is only a first gate: the full check (`open_stage1_file`)
still runs on the written file.

A stage-1 file is a ZIP whose first member is either the manifest or one of the dataset's table
members (both writers, `source_file.write_stage1_file` and the browser's `stage1.js`, write the
tables first and the manifest last; a refused export holds only the manifest). A table member's
header line must carry the findings column and no column of a field the source drops.
"""

from __future__ import annotations

import csv
import struct
import zlib
from enum import Enum
from typing import Any, NoReturn

from zorgbroker.pseudonymisation.stage1_manifest import FINDINGS_COLUMN, MANIFEST_NAME
from zorgbroker.pseudonymisation.stage1_reader import NOT_STAGE1, Stage1Refused

#: Bytes of the body held at most before the guard decides.
MAX_HEAD_BYTES = 64 * 1024
_LOCAL_HEADER = b"PK\x03\x04"
_LOCAL_HEADER_BYTES = 30
_STORED, _DEFLATED = 0, 8


class Verdict(Enum):
    WAIT = "wait"
    ACCEPTED = "accepted"


def table_members(spec: Any) -> dict[str, Any]:
    """Member name -> table, as `browser_plan` and `source_file` name a table's member."""
    return {table.file or f"{table.name}.csv": table for table in spec.tables}


class Stage1Guard:
    """Feed it the body's chunks; `Stage1Refused` (BF-020) as soon as it cannot be a stage-1
    file of `spec`. `held` are the bytes fed so far, to be written first once accepted."""

    def __init__(self, spec: Any, file_name: str) -> None:
        self._members = table_members(spec)
        self._file_name = file_name
        self._head = bytearray()
        self.verdict = Verdict.WAIT

    @property
    def held(self) -> bytes:
        return bytes(self._head)

    def feed(self, chunk: bytes) -> Verdict:
        if self.verdict is Verdict.ACCEPTED:
            return self.verdict
        self._head += chunk[: MAX_HEAD_BYTES + 1 - len(self._head)]
        self.verdict = self._decide(final=len(self._head) > MAX_HEAD_BYTES)
        return self.verdict

    def finish(self) -> None:
        """The body ended: a guard still waiting has seen too little to be a stage-1 file."""
        if self.verdict is Verdict.WAIT:
            self._decide(final=True)
            self._refuse("het bestand is geen stap-1-archief (ZIP)")

    def _refuse(self, why: str) -> NoReturn:
        raise Stage1Refused(NOT_STAGE1, f"{self._file_name}: {why}")

    def _decide(self, *, final: bool) -> Verdict:
        head = bytes(self._head)
        if not _LOCAL_HEADER.startswith(head[:4]) or (final and len(head) < 4):
            self._refuse("het bestand is geen stap-1-archief (ZIP)")
        if len(head) < _LOCAL_HEADER_BYTES:
            return Verdict.WAIT
        _, method, name_len, extra_len = _local_header(head)
        start = _LOCAL_HEADER_BYTES + name_len + extra_len
        if len(head) < start:
            if final:
                self._refuse("het bestand is geen stap-1-archief (ZIP)")
            return Verdict.WAIT
        name = head[_LOCAL_HEADER_BYTES : _LOCAL_HEADER_BYTES + name_len].decode("utf-8", "replace")
        if name == MANIFEST_NAME:
            return Verdict.ACCEPTED
        table = self._members.get(name)
        if table is None:
            self._refuse("het archief begint niet met een stap-1-tabel of het stap-1-manifest")
        if method not in (_STORED, _DEFLATED):
            self._refuse("het archief is niet gemaakt zoals een stap-1-bestand")
        line = _first_line(head[start:], deflated=method == _DEFLATED)
        if line is None:
            if final:
                self._refuse(f"de kopregel van tabel {table.name} is niet te lezen")
            return Verdict.WAIT
        self._check_header(line, table)
        return Verdict.ACCEPTED

    def _check_header(self, line: bytes, table: Any) -> None:
        try:
            text = line.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            # A stage-1 file is UTF-8; another encoding is a raw export.
            self._refuse(f"tabel {table.name} heeft geen stap-1-kopregel")
        columns = next(csv.reader([text.rstrip("\r")], delimiter=";"), [])
        dropped = {f.name for f in table.fields if f.identifying == "drop"}
        if FINDINGS_COLUMN not in columns or dropped & set(columns):
            # Named by table only: a column name may be a data row in disguise.
            self._refuse(f"tabel {table.name} heeft geen stap-1-kopregel")


def _local_header(head: bytes) -> tuple[int, int, int, int]:
    """(flags, method, name length, extra length) of the ZIP local file header at the start."""
    flags, method = struct.unpack_from("<HH", head, 6)
    name_len, extra_len = struct.unpack_from("<HH", head, 26)
    return flags, method, name_len, extra_len


def _first_line(data: bytes, *, deflated: bool) -> bytes | None:
    """The first line of a member's data (held bytes only); None while no line end is in it.
    Works with a data descriptor too: the sizes in the local header are not needed."""
    if deflated:
        try:
            data = zlib.decompressobj(-15).decompress(data, MAX_HEAD_BYTES)
        except zlib.error:
            return b"\xff"  # not deflate: refused by the header check as unreadable
    end = data.find(b"\n")
    return None if end < 0 else data[:end]
