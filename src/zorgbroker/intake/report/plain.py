"""The report's pieces that need no Polars, so that listing stored uploads (`zorgbroker uploads`)
can name their counts and modes without loading the report's message frame machinery.

`model` and `summary` re-export them; `zorgbroker.intake.api` hands them out from here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: What a user reads for a mode.
MODE_LABELS: dict[str, str] = {"test": "test", "production": "productie"}


@dataclass(frozen=True)
class Stored:
    """The contract's `summary.stored`: of the accepted records, how many the registry found new,
    how many replaced a held version with other content, and how many it held already."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


def format_count(n: int) -> str:
    """Dutch digit grouping: 1.234.567."""
    return f"{n:,}".replace(",", ".")
