"""A recall query as people type or scan it, read the way the registry stores devices.

A recall notice, a device box or a scanner gives a UDI-DI in many forms: the GTIN-13 printed
under an EAN barcode, the 14 digits the registry holds, `(01)…` with the serial behind `(21)`, or
the raw scanner string with its symbology prefix and group separators. Answering "no one
carries it" because the form differed from the stored one would stop a recall at the registry,
so every form is brought to the stored one, and a number that cannot be a GTIN is refused
instead of being looked up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import ean, gs1_128
from stdnum.exceptions import ValidationError

#: Group separator (FNC1) that ends a variable-length element in a scanned GS1 string.
_GS = "\x1d"
#: `]d2` (DataMatrix), `]C1` (GS1-128), `]Q3` (QR): scanners may put these in front.
_SYMBOLOGY = re.compile(r"^\][A-Za-z]\d")
_GTIN_LENGTHS = (8, 12, 13, 14)
_AI_GTIN = "01"
_AI_SERIAL = "21"
#: The human-readable form, `(01)…(21)…`: every element an AI in brackets and a value. The GS1
#: parser reads a cut-off `(01)…(21` as having an empty serial, so the form is checked first.
_BRACKETED = re.compile(r"(?:\s*\(\d{2,4}\)\s*[^()\s][^()]*)+")


class DeviceQueryError(ValueError):
    """A query that names no device; the message is Dutch, for the user."""


@dataclass(frozen=True)
class DeviceQuery:
    udi_di: str | None = None
    serial: str | None = None

    def describe(self) -> str:
        parts = []
        if self.udi_di:
            parts.append(f"udi_di={self.udi_di}")
        if self.serial:
            parts.append(f"serienummer={self.serial}")
        return " ".join(parts)


def _gtin14(digits: str, shown: str) -> str:
    if not digits.isdigit() or len(digits) not in _GTIN_LENGTHS:
        raise DeviceQueryError(
            f"'{shown}' is geen UDI-DI: verwacht een GTIN van 8, 12, 13 of 14 cijfers, "
            "eventueel als (01)…"
        )
    if not ean.is_valid(digits):
        raise DeviceQueryError(
            f"'{shown}' is geen geldige UDI-DI: het controlecijfer klopt niet (typfout?)"
        )
    # GS1: a GTIN-8, -12 or -13 is the GTIN-14 with leading zeros, as the import pads it.
    return digits.zfill(14)


def _elements(text: str, shown: str) -> dict[str, object]:
    try:
        return gs1_128.info(text, separator=_GS)
    except ValidationError:
        raise DeviceQueryError(
            f"'{shown}' is geen geldige GS1-code: controleer de UDI en het controlecijfer"
        ) from None


def parse_device_query(udi_di: str | None, serial: str | None) -> DeviceQuery:
    """The query in the registry's stored form; DeviceQueryError where it cannot name a device."""
    serial = serial.strip() if serial is not None else None
    if serial == "":
        raise DeviceQueryError("--serial is leeg")
    if udi_di is None:
        return DeviceQuery(serial=serial)
    shown = udi_di.strip().replace(_GS, "<GS>")
    text = _SYMBOLOGY.sub("", udi_di.strip())
    compact = re.sub(r"[\s.\-]", "", text)
    if compact.isdigit() and len(compact) <= 14:
        return DeviceQuery(udi_di=_gtin14(compact, shown), serial=serial)
    if not compact:
        raise DeviceQueryError("--udi-di is leeg")
    if ("(" in text or ")" in text) and not _BRACKETED.fullmatch(text):
        raise DeviceQueryError(
            f"'{shown}' is geen volledige UDI: elk GS1-element is een code tussen haakjes met een "
            "waarde erachter, bijvoorbeeld (01)00614141999996(21)SN12345"
        )
    elements = _elements(text, shown)
    gtin = elements.get(_AI_GTIN)
    if not isinstance(gtin, str):
        raise DeviceQueryError(f"'{shown}' bevat geen UDI-DI (GS1-element (01))")
    scanned_serial = elements.get(_AI_SERIAL)
    if scanned_serial == "":
        raise DeviceQueryError(f"'{shown}' heeft een leeg serienummer (GS1-element (21))")
    if isinstance(scanned_serial, str):
        if serial is not None and serial != scanned_serial:
            raise DeviceQueryError(
                f"het serienummer in de UDI ({scanned_serial}) verschilt van --serial ({serial})"
            )
        serial = scanned_serial
    return DeviceQuery(udi_di=_gtin14(gtin, shown), serial=serial)
