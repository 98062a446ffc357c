"""What crossed the wire, made searchable: a stage-1 file travels as a deflated ZIP, so a plain
byte search of a request body would not see an identifier inside it."""

from __future__ import annotations

import io
import zipfile

_LOCAL_HEADER = b"PK\x03\x04"
_END_OF_DIRECTORY = b"PK\x05\x06"


def opened(body: bytes) -> bytes:
    """`body` followed by the unpacked members of every ZIP archive in it (a multipart body
    holds the archive between its part headers)."""
    parts = [body]
    start = body.find(_LOCAL_HEADER)
    while start != -1:
        end = body.find(_END_OF_DIRECTORY, start)
        if end == -1:
            break
        comment = int.from_bytes(body[end + 20 : end + 22], "little")
        archive = body[start : end + 22 + comment]
        with zipfile.ZipFile(io.BytesIO(archive)) as unpacked:
            parts += [unpacked.read(name) for name in unpacked.namelist()]
        start = body.find(_LOCAL_HEADER, end)
    return b"\n".join(parts)
