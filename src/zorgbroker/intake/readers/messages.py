"""The Dutch texts of every error and warning the readers raise, in one place.

Messages name files, tables, rows and column positions, never cell content: a header row can be
a data row in disguise (an export without header), so even column names stay out of them.
"""

from __future__ import annotations

import re

from zorgbroker.intake.readers.base import FileWarning, ReadError

#: A member or sheet name is echoed only when it cannot hide an identifier: no long digit runs
#: (BSN, AGB, dates) and nothing but ordinary file-name characters.
_SAFE_NAME = re.compile(r"[\w .()\-]{1,80}")
_DIGIT_RUN = re.compile(r"\d{5,}|\d{1,4}[-_.]\d{1,2}[-_.]\d{2,4}")


def shown_name(name: str) -> str:
    """`name` quoted for a message, or a neutral stand-in when it might carry personal data."""
    if _SAFE_NAME.fullmatch(name) and not _DIGIT_RUN.search(name):
        return f"'{name}'"
    return "(naam niet getoond)"


def _where(table: str | None) -> str:
    return f" in tabel '{table}'" if table is not None and table != "main" else ""


def unreadable(detail: str, *, table: str | None = None) -> ReadError:
    return ReadError("BF-001", f"Bestand is onleesbaar{_where(table)}: {detail}", table=table)


def unreadable_row(row: int, detail: str, *, table: str | None = None) -> ReadError:
    return unreadable(f"rij {row} {detail}", table=table)


def unknown_format(detail: str) -> ReadError:
    return ReadError("BF-002", f"Onbekend bestandsformaat: {detail}")


def no_data(*, table: str | None = None) -> ReadError:
    return ReadError(
        "BF-005",
        f"Bestand bevat geen gegevens{_where(table)}: het is leeg of heeft alleen een kopregel.",
        table=table,
    )


def too_large(size: int, limit: int) -> ReadError:
    return ReadError(
        "BF-006",
        "Bestand is groter dan toegestaan: "
        f"{_megabytes(size)} terwijl het maximum {_megabytes(limit)} is.",
    )


def _grouped(number: int) -> str:
    """A whole number with points between the thousands, as Dutch writes it."""
    return f"{number:,}".replace(",", ".")


def sheet_too_large(cells: int, limit: int) -> ReadError:
    return ReadError(
        "BF-006",
        f"Bestand is groter dan toegestaan: een werkblad beslaat {_grouped(cells)} cellen (van A1 "
        f"tot de laatste gevulde cel), het maximum is {_grouped(limit)}.",
    )


def unsafe_archive(detail: str) -> ReadError:
    return ReadError("BF-007", f"Archief is onveilig of pakt te groot uit: {detail}")


def wrong_layout(expected: str, found: str, *, dataset: str | None) -> ReadError:
    """A file of a layout the dataset does not take (another dataset's file, most likely)."""
    who = dataset or "deze dataset"
    return ReadError(
        "BF-004", f"Bestand hoort niet bij deze dataset: {who} verwacht {expected}; {found}."
    )


def duplicate_columns(
    first: int, second: int, *, exact: bool = True, table: str | None = None
) -> ReadError:
    alike = "" if exact else " (hoofdletters en spaties eromheen tellen niet mee)"
    return ReadError(
        "BF-008",
        f"Kolomnaam komt meer dan eens voor{_where(table)}: "
        f"kolom {first} en kolom {second} hebben dezelfde naam{alike}.",
        table=table,
    )


def mixed_encoding(*, table: str | None = None, row: int | None = None) -> ReadError:
    place = f" (gezien bij rij {row})" if row is not None else ""
    return ReadError(
        "BF-009",
        f"Tekenset van het bestand is gemengd{_where(table)}{place}: het bevat zowel UTF-8 als "
        "tekens die geen UTF-8 zijn. Sla het bestand opnieuw op als CSV UTF-8.",
        table=table,
    )


def extra_member(name: str, *, kind: str = "bestand in het archief") -> FileWarning:
    """An archive member or workbook sheet the dataset does not know (counted as BW-001)."""
    return FileWarning(
        "BW-001",
        f"Extra {kind} genegeerd: {shown_name(name)} hoort niet bij deze dataset.",
    )


def not_utf8(*, table: str | None = None) -> FileWarning:
    return FileWarning(
        "BW-002",
        f"Tekenset is niet UTF-8 (gelezen als Windows-1252){_where(table)}.",
        table=table,
    )


def formulas_ignored() -> FileWarning:
    return FileWarning(
        "BW-004",
        "Formules in het werkblad genegeerd; opgeslagen waarden gebruikt.",
    )


def formulas_without_values() -> FileWarning:
    """Formulas whose results were never stored (a workbook written by a program, not saved by
    Excel): there is no value to use, so those cells are read as empty."""
    return FileWarning(
        "BW-004",
        "Formules in het werkblad hebben geen opgeslagen uitkomst; die cellen zijn als leeg "
        "gelezen. Open de werkmap in Excel en sla haar op (dan worden de uitkomsten bewaard), "
        "of lever de waarden aan in plaats van formules.",
    )


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:.1f} MB".replace(".", ",")
