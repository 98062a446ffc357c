"""Telling a ZIP container from text from anything else, by content rather than by file name."""

from __future__ import annotations

from typing import Literal

from zorgbroker.intake.readers import messages

#: How much of a file's start is looked at to decide whether it is text.
SNIFF_BYTES = 64 * 1024

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

_SAVE_AS = "sla het bestand op als CSV (UTF-8) of als Excel-werkmap (.xlsx)."
_KNOWN_BINARY = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "dit is een oud Excel-bestand (.xls) of een met een wachtwoord beveiligde werkmap; "
        + _SAVE_AS,
    ),
    (b"%PDF", "dit is een PDF-bestand; " + _SAVE_AS),
    (b"\x1f\x8b", "gzip-archieven worden niet ondersteund; gebruik ZIP."),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip-archieven worden niet ondersteund; gebruik ZIP."),
    (b"Rar!\x1a\x07", "RAR-archieven worden niet ondersteund; gebruik ZIP."),
    (b"\xff\xfe", "UTF-16-tekst wordt niet ondersteund; " + _SAVE_AS),
    (b"\xfe\xff", "UTF-16-tekst wordt niet ondersteund; " + _SAVE_AS),
)

#: C0 control characters that do not occur in text (tab, line ends and form feed do).
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1A), *range(0x1B, 0x20)])


def sniff(head: bytes) -> Literal["zip", "text"]:
    """Classify a file by its first bytes; anything that is neither ZIP nor text is BF-002."""
    if head.startswith(ZIP_MAGICS):
        return "zip"
    for magic, explanation in _KNOWN_BINARY:
        if head.startswith(magic):
            raise messages.unknown_format(explanation)
    if looks_binary(head[:SNIFF_BYTES]):
        raise messages.unknown_format("het bestand is geen CSV-, XLSX- of ZIP-bestand.")
    return "text"


def looks_binary(sample: bytes) -> bool:
    if b"\x00" in sample:
        return True
    # A stray control character can happen in a real export (one in a thousand bytes at most);
    # in a small file, or more often than that, it is binary data.
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > len(sample) // 1000
