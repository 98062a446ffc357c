"""What the human-readable reports (text and Excel) share: Dutch labels and the code table."""

from __future__ import annotations

from dataclasses import dataclass

from zorgbroker.intake.report.model import CLASSES, Report
from zorgbroker.intake.report.plain import MODE_LABELS as MODE_LABELS  # re-exported
from zorgbroker.intake.report.plain import format_count as format_count  # re-exported

#: What each message class means, in the words a data manager reads.
CLASS_LEGEND: dict[str, str] = {
    "BF": "bestand afgewezen",
    "BW": "waarschuwing voor het hele bestand",
    "F": "record afgewezen",
    "W": "waarschuwing",
    "TF": "afgewezen wegens conflict met eerder aangeleverde gegevens",
    "TW": "waarschuwing voor mogelijk conflict met eerder aangeleverde gegevens",
}

NO_MESSAGES = "Geen meldingen: het bestand voldoet aan de specificatie."
FILE_REJECTED = "BESTAND AFGEWEZEN"


@dataclass(frozen=True)
class CodeRow:
    code: str
    klass: str
    count: int
    explanation: str


def class_of(code: str) -> str:
    return code.split("-", 1)[0]


def _class_rank(klass: str) -> int:
    # Unknown classes (should not occur) go last rather than breaking the report.
    return CLASSES.index(klass) if klass in CLASSES else len(CLASSES)


def code_rows(report: Report) -> list[CodeRow]:
    """One row per code that occurs, ordered by class (BF, BW, F, W, TF, TW), then code."""
    rows = [
        CodeRow(code, class_of(code), count, report.code_texts.get(code, ""))
        for code, count in report.by_code().items()
    ]
    return sorted(rows, key=lambda row: (_class_rank(row.klass), row.code))


def classes_present(rows: list[CodeRow]) -> list[str]:
    seen = {row.klass for row in rows}
    return [klass for klass in CLASSES if klass in seen]


def approximate_size(n_bytes: int) -> str:
    """A size a person grasps at a glance: 48,9 MB."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n_bytes >= factor:
            return f"{n_bytes / factor:.1f} {unit}".replace(".", ",")
    return f"{format_count(n_bytes)} bytes"


def format_size(n_bytes: int) -> str:
    """A size a person grasps at a glance, with the exact byte count behind it."""
    exact = f"{format_count(n_bytes)} bytes"
    approx = approximate_size(n_bytes)
    return exact if approx == exact else f"{approx} ({exact})"


def yes_no(flag: bool) -> str:
    return "ja" if flag else "nee"
