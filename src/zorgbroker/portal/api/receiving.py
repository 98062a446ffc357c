"""Reading a multipart upload as it arrives: the file part goes to disk in chunks (never whole
in memory), the small text fields are kept, and the body is cut off at the size limit.

A `Stage1Guard` (made from the text fields before the file part, so `dataset` comes first) sees
the file's first KB before anything is written: a body that cannot be a stage-1 file (a raw
export sent by mistake) is refused there, read on to its end only to count and hash it, and
never written (`ReceivedForm.refused`).

The file is written under a name chosen here, in a private folder (mode 0700) of its own that
the caller removes once the upload service has taken the file in (or refused it), on every way
out; nothing of a refused file stays behind.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from zorgbroker.intake.api import Mode
from zorgbroker.pseudonymisation.stage1_guard import Stage1Guard, Verdict
from zorgbroker.pseudonymisation.stage1_reader import Stage1Refused
from zorgbroker.uploads.service import UploadService

#: Makes the guard of a file part from the text fields before it and the file's display name.
GuardMaker = Callable[[dict[str, str], str], Stage1Guard]

#: The form field that carries the file.
FILE_FIELD = "file"
#: A text field longer than this is not a dataset name or a mode.
MAX_FIELD_BYTES = 1024
#: Text fields in one request at most.
MAX_FIELDS = 16
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


class FormRefused(Exception):
    """The body cannot be taken: a Dutch `detail` and the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: Path | None = None
    file_bytes: int = 0
    #: The file's name as sent (display form) and the SHA-256 of all of its bytes.
    file_name: str = ""
    file_sha256: str = ""
    #: Set when the guard refused the file: then nothing of it was written (`file` is None).
    refused: Stage1Refused | None = None


def take_in(
    uploads: UploadService,
    form: ReceivedForm,
    *,
    dataset: str,
    organisation: str,
    mode: Mode,
    uploaded_by: str,
) -> int:
    """The upload made of a received form: for a body the guard refused, its refusal recorded
    (nothing of it was written); else the written file taken in by the upload service."""
    if form.refused is not None:
        return uploads.refuse_unreceived(
            form.refused, name=form.file_name, sha256=form.file_sha256, size=form.file_bytes,
            dataset=dataset, organisation=organisation, mode=mode, uploaded_by=uploaded_by,
        )  # fmt: skip
    assert form.file is not None  # the guard accepted it, so it was written
    return uploads.receive(
        form.file, dataset=dataset, organisation=organisation, mode=mode, uploaded_by=uploaded_by
    )


def display_name(sent: str) -> str:
    """The client's file name reduced to its last part and plain characters: shown in the
    report of a refused file, never used as a path of its own."""
    base = PurePosixPath(PureWindowsPath(sent).name).name
    cleaned = _SAFE_NAME.sub("_", base).strip(" .")[:100]
    return cleaned or "bestand"


@contextmanager
def private_folder(parent: Path | None = None) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="zorgbroker-api-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Receiver:
    """python-multipart's callbacks: collects the headers of each part, then routes its data."""

    def __init__(
        self,
        folder: Path,
        max_file_bytes: int,
        make_guard: GuardMaker | None = None,
        file_field: str = FILE_FIELD,
    ) -> None:
        self.form = ReceivedForm()
        self._file_field = file_field
        self._make_guard = make_guard
        self._guard: Stage1Guard | None = None
        self._pending = bytearray()
        self._digest = hashlib.sha256()
        self._in_file = False
        self._folder = folder
        self._max_file_bytes = max_file_bytes
        self._headers: dict[bytes, bytes] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._name: str | None = None
        self._text: bytearray | None = None
        self._out: BinaryIO | None = None

    def on_part_begin(self) -> None:
        self._headers = {}
        self._name = None
        self._text = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        kind, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        if kind != b"form-data" or name is None:
            raise FormRefused(422, "Een deel van het formulier heeft geen veldnaam.")
        self._name = name.decode("utf-8", "replace")
        if self._name == self._file_field:
            if self._in_file or self.form.file is not None:
                raise FormRefused(
                    422, f"Stuur precies één bestand in het veld '{self._file_field}'."
                )
            sent = options.get(b"filename", b"").decode("utf-8", "replace")
            self.form.file_name = display_name(sent)
            self._in_file = True
            if self._make_guard is not None:
                self._guard = self._make_guard(dict(self.form.fields), self.form.file_name)
            else:
                self._open()
        else:
            if len(self.form.fields) >= MAX_FIELDS:
                raise FormRefused(422, "Het formulier heeft te veel velden.")
            self._text = bytearray()

    def _open(self) -> None:
        self.form.file = self._folder / self.form.file_name
        self._out = self.form.file.open("xb")
        self.form.file.chmod(0o600)

    def _file_data(self, chunk: bytes) -> None:
        self.form.file_bytes += len(chunk)
        if self.form.file_bytes > self._max_file_bytes:
            limit = f"{self._max_file_bytes:,}".replace(",", ".")
            raise FormRefused(413, f"Het bestand is groter dan de toegestane {limit} bytes.")
        self._digest.update(chunk)
        if self._out is not None:
            self._out.write(chunk)
        elif self._guard is not None and self.form.refused is None:
            # Held in memory only (a few tens of KB) until the guard decides.
            self._pending += chunk
            try:
                verdict = self._guard.feed(chunk)
            except Stage1Refused as refused:
                self.form.refused = refused
                self._pending.clear()
                return
            if verdict is Verdict.ACCEPTED:
                self._open()
                assert self._out is not None
                self._out.write(self._pending)
                self._pending.clear()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._file_data(data[start:end])
        elif self._text is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_FIELD_BYTES:
                raise FormRefused(422, f"Het veld '{self._name}' is te lang.")

    def on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self.form.file_sha256 = self._digest.hexdigest()
            if self._out is not None:
                self._out.close()
                self._out = None
            elif self._guard is not None and self.form.refused is None and self.form.file_bytes:
                try:
                    self._guard.finish()
                except Stage1Refused as refused:
                    self.form.refused = refused
                self._pending.clear()
        elif self._text is not None and self._name is not None:
            self.form.fields[self._name] = self._text.decode("utf-8", "replace").strip()
            self._text = None

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


def boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise FormRefused(
            415, "Stuur het bestand als multipart/form-data met de velden dataset, mode en file."
        )
    return boundary


async def receive_form(
    content_type: str,
    body: AsyncIterator[bytes],
    folder: Path,
    *,
    max_file_bytes: int,
    make_guard: GuardMaker | None = None,
    file_field: str = FILE_FIELD,
) -> ReceivedForm:
    """Parse the multipart body as it streams in; the file lands in `folder` (once the guard
    of `make_guard`, if any, accepted its start)."""
    receiver = _Receiver(folder, max_file_bytes, make_guard, file_field)
    parser = MultipartParser(
        boundary_of(content_type),
        {  # type: ignore[arg-type]
            "on_part_begin": receiver.on_part_begin,
            "on_part_data": receiver.on_part_data,
            "on_part_end": receiver.on_part_end,
            "on_header_field": receiver.on_header_field,
            "on_header_value": receiver.on_header_value,
            "on_header_end": receiver.on_header_end,
            "on_headers_finished": receiver.on_headers_finished,
        },
    )
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except FormRefused:
        raise
    except Exception as exc:  # python-multipart's parse errors: a malformed body
        raise FormRefused(
            400, "Het formulier kon niet gelezen worden (ongeldige multipart)."
        ) from exc
    finally:
        receiver.close()
    return receiver.form
