"""Which character set a CSV stream uses, and turning Windows-1252 into UTF-8 in memory.

Care systems export either UTF-8 (with or without byte-order mark) or Windows-1252. A stream that
is not valid UTF-8 is read as Windows-1252, unless it *also* holds well-formed UTF-8 multi-byte
sequences: then two exports were glued together and no single reading is right (BF-009).
"""

from __future__ import annotations

import codecs
from typing import Literal

import polars as pl

Encoding = Literal["utf-8", "utf-8-sig", "cp1252"]
UTF8_BOM = b"\xef\xbb\xbf"

#: Windows-1252 as Windows itself decodes it: the five bytes the standard leaves undefined map to
#: the matching C1 control characters instead of failing (as the WHATWG encoding standard does).
_CP1252_TABLE = "".join(
    bytes([b]).decode("cp1252", errors="replace").replace("\ufffd", chr(b)) for b in range(256)
)


def utf8_sequence_length(lead: int) -> int:
    """Bytes in the UTF-8 sequence that starts with byte `lead` (1 for ASCII or a stray byte)."""
    if lead >= 0xF0:
        return 4
    if lead >= 0xE0:
        return 3
    if lead >= 0xC0:
        return 2
    return 1


def incomplete_utf8_tail(data: bytes) -> int:
    """How many bytes at the end of `data` start a multi-byte sequence cut off by the end."""
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # continuation byte: look further back for the lead
            continue
        return back if utf8_sequence_length(byte) > back else 0
    return 0


def is_valid_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    # Polars validates in Rust with SIMD, several times faster than a Python decode.
    try:
        pl.Series([data], dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.PolarsError:
        return False
    return True


def has_utf8_multibyte(data: bytes) -> bool:
    """Whether `data` holds at least one well-formed UTF-8 multi-byte sequence."""
    # Dropping the invalid bytes leaves exactly the well-formed sequences; isascii is O(1) on str.
    return not data.decode("utf-8", "ignore").isascii()


def cp1252_to_utf8(data: bytes) -> bytes:
    return codecs.charmap_decode(data, "strict", _CP1252_TABLE)[0].encode("utf-8")


def decode_text(data: bytes, encoding: Encoding) -> str:
    """Small pieces of text (a header line) as str; the BOM is not part of `data`."""
    if encoding == "cp1252":
        return codecs.charmap_decode(data, "strict", _CP1252_TABLE)[0]
    return data.decode("utf-8", errors="replace")


class EncodingScan:
    """Decides the encoding of a byte stream fed to it block by block, in order.

    Pure-ASCII blocks cost almost nothing (`bytes.isascii`), so scanning a whole UTF-8 file adds
    little to the pass that hashes it anyway.
    """

    def __init__(self) -> None:
        self._started = False
        self.bom = False
        self.valid_multibyte = False
        self.invalid = False
        self._tail = b""

    @property
    def mixed(self) -> bool:
        return self.invalid and self.valid_multibyte

    @property
    def seen_non_ascii(self) -> bool:
        """Once true, the verdict can no longer change from "pure ASCII" to something else."""
        return self.invalid or self.valid_multibyte

    def feed(self, block: bytes) -> None:
        if not block or self.mixed:
            return
        if not self._started:
            self._started = True
            self.bom = block.startswith(UTF8_BOM)
        if self._tail:
            # The cut-off sequence is judged together with what follows, as a decoder would:
            # when the next bytes do not complete it, only its own bytes are invalid and they
            # are read on from its second byte (which may start a valid sequence).
            block = self._tail + block
        cut = len(block) - incomplete_utf8_tail(block)
        self._check(block if cut == len(block) else block[:cut])
        self._tail = block[cut:]

    def finish(self, *, at_end: bool = True) -> Encoding | None:
        """The verdict, or None when the stream mixes UTF-8 with other bytes.

        `at_end=False` when the scan stops before the stream ends (its last block may then end
        inside a character that the next block would complete).
        """
        if self._tail and at_end:
            self.invalid = True  # the stream ends inside a multi-byte sequence
        self._tail = b""
        if self.mixed:
            return None
        if self.invalid:
            return "cp1252"
        return "utf-8-sig" if self.bom else "utf-8"

    def _check(self, data: bytes) -> None:
        if data.isascii():
            return
        if not self.invalid:
            if is_valid_utf8(data):
                self.valid_multibyte = True
                return
            self.invalid = True
        if not self.valid_multibyte:
            self.valid_multibyte = has_utf8_multibyte(data)
