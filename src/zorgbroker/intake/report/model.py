"""The quality report, as fixed by shared/contracts/quality-report.md.

Messages are kept as one Polars frame (they can number in the hundreds of thousands);
writers turn it into text, JSON or XLSX without a Python object per message.

A report is built, never patched: the check makes it (`Report.from_check`), and the registry
derives a new one with its result added (`with_registry_result`). Whoever holds a report may
pass it on knowing nobody changes it underneath them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from zorgbroker.intake.report.plain import Stored as Stored  # re-exported

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

    @classmethod
    def from_check(
        cls,
        *,
        dataset: str,
        dataset_version: str,
        mode: Mode,
        file: FileInfo,
        records: int,
        rejected: int,
        file_rejected: bool,
        messages: pl.DataFrame,
        code_texts: Mapping[str, str],
        multi_table: bool,
    ) -> Report:
        """The check's result: its messages and counts, nothing stored, nothing pseudonymised."""
        return cls(
            dataset=dataset,
            dataset_version=dataset_version,
            mode=mode,
            file=file,
            records=records,
            rejected=rejected,
            file_rejected=file_rejected,
            messages=messages,
            code_texts=dict(code_texts),
            multi_table=multi_table,
        )

    def with_registry_result(
        self, *, fingerprints: Mapping[str, str], stored: Stored | None = None
    ) -> Report:
        """A new report with the registry's result added: the fingerprints of the keys the upload
        was pseudonymised with, and what was stored of it (None: nothing was imported, as for a
        test upload). The messages and counts stay as they are."""
        return dataclasses.replace(self, stored=stored, pseudonymisation=dict(fingerprints))

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
