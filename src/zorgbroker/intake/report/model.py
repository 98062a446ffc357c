"""The quality report, as fixed by shared/contracts/quality-report.md.

Messages are kept as one Polars frame (they can number in the hundreds of thousands);
writers turn it into text, JSON or XLSX without a Python object per message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

REPORT_VERSION = 1

Mode = Literal["test", "production"]

#: Column order of the messages frame; the JSON keys follow it.
MESSAGE_SCHEMA: dict[str, pl.DataType] = {
    "table": pl.String(),
    "record": pl.Int64(),
    "field": pl.String(),
    "code": pl.String(),
    "class": pl.String(),
    "value": pl.String(),
    "message": pl.String(),
}

#: Message classes in the order the summary lists them.
CLASSES = ("BF", "BW", "F", "W", "TF", "TW")
REJECTING_CLASSES = frozenset({"F", "TF"})


def empty_messages() -> pl.DataFrame:
    return pl.DataFrame(schema=MESSAGE_SCHEMA)


@dataclass(frozen=True)
class FileInfo:
    name: str
    sha256: str
    bytes: int
    format: str  # "csv" | "xlsx" | "zip" | "unknown"
    encoding: str | None  # "utf-8", "utf-8-sig", "cp1252"; None for xlsx or unreadable

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "format": self.format,
            "encoding": self.encoding,
        }


@dataclass(frozen=True)
class Stored:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class Report:
    dataset: str
    dataset_version: str
    mode: Mode
    file: FileInfo
    records: int
    rejected: int
    file_rejected: bool
    messages: pl.DataFrame  # MESSAGE_SCHEMA, in report order
    #: code -> Dutch explanation, for every code that occurs (the summary's texts).
    code_texts: dict[str, str] = field(default_factory=dict)
    multi_table: bool = False
    stored: Stored | None = None
    #: The key fingerprints and method the upload was pseudonymised with (never a key); empty for
    #: an offline check, which pseudonymises nothing. An addition to the contract's fields.
    pseudonymisation: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return 0 if self.file_rejected else self.records - self.rejected

    def by_code(self) -> dict[str, int]:
        if self.messages.height == 0:
            return {}
        counts = self.messages.group_by("code").len().sort("code")
        return dict(zip(counts["code"].to_list(), counts["len"].to_list(), strict=True))

    def summary_json(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            "records": self.records,
            "accepted": self.accepted,
            "rejected": self.records - self.accepted,
            "file_rejected": self.file_rejected,
            "by_code": self.by_code(),
        }
        if self.stored is not None:
            summary["stored"] = {
                "new": self.stored.new,
                "updated": self.stored.updated,
                "unchanged": self.stored.unchanged,
            }
        return summary
