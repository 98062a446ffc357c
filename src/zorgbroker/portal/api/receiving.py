"""Reading a multipart upload as it arrives: the file part goes to disk in chunks (never whole
in memory), the small text fields are kept, and the body is cut off at the size limit.

The file is written under a name chosen here, in a private folder (mode 0700) of its own that
the caller removes once the upload service has taken the file in (or refused it), on every way
out; nothing of a refused file stays behind.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

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

    def __init__(self, folder: Path, max_file_bytes: int) -> None:
        self.form = ReceivedForm()
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
        if self._name == FILE_FIELD:
            if self.form.file is not None:
                raise FormRefused(422, "Stuur precies één bestand in het veld 'file'.")
            sent = options.get(b"filename", b"").decode("utf-8", "replace")
            self.form.file = self._folder / display_name(sent)
            self._out = self.form.file.open("xb")
            self.form.file.chmod(0o600)
        else:
            if len(self.form.fields) >= MAX_FIELDS:
                raise FormRefused(422, "Het formulier heeft te veel velden.")
            self._text = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None:
            self.form.file_bytes += end - start
            if self.form.file_bytes > self._max_file_bytes:
                limit = f"{self._max_file_bytes:,}".replace(",", ".")
                raise FormRefused(413, f"Het bestand is groter dan de toegestane {limit} bytes.")
            self._out.write(data[start:end])
        elif self._text is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_FIELD_BYTES:
                raise FormRefused(422, f"Het veld '{self._name}' is te lang.")

    def on_part_end(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
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
    content_type: str, body: AsyncIterator[bytes], folder: Path, *, max_file_bytes: int
) -> ReceivedForm:
    """Parse the multipart body as it streams in; the file lands in `folder`."""
    receiver = _Receiver(folder, max_file_bytes)
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
