"""The report as JSON, exactly in the shape of shared/contracts/quality-report.md.

Messages are serialised by Polars in slices, so half a million of them never become half a
million Python dicts on the way to a file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import polars as pl

from zorgbroker.intake.report.model import (
    MESSAGE_SCHEMA,
    REPORT_VERSION,
    FileInfo,
    Report,
    Stored,
)

#: Key order of one message in the contract; "table" follows only for multi-table datasets.
MESSAGE_KEYS = ("class", "code", "record", "field", "value", "message")
_SLICE_ROWS = 50_000


class StoredReportError(ValueError):
    """A stored JSON report cannot be turned back into a report."""

    def __init__(self, detail: str) -> None:
        self.message = f"Opgeslagen rapport is onleesbaar: {detail}"
        super().__init__(self.message)


def message_columns(report: Report) -> list[str]:
    return [*MESSAGE_KEYS, "table"] if report.multi_table else list(MESSAGE_KEYS)


def _head(report: Report) -> dict[str, Any]:
    head: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "dataset": report.dataset,
        "dataset_version": report.dataset_version,
        "mode": report.mode,
        "file": report.file.as_json(),
        "summary": report.summary_json(),
    }
    if report.pseudonymisation:
        head["pseudonymisation"] = dict(report.pseudonymisation)
    return head


def to_json_dict(report: Report) -> dict[str, Any]:
    document = _head(report)
    # Polars' JSON writer plus json.loads is several times faster than DataFrame.to_dicts().
    messages = report.messages.select(message_columns(report)).write_json()
    document["messages"] = json.loads(messages)
    return document


def write_json(report: Report, out: IO[str] | Path) -> None:
    """Write the report as UTF-8 JSON, one message per line so large reports stay greppable."""
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8", newline="\n") as stream:
            _write(report, stream)
    else:
        _write(report, out)


def _write(report: Report, out: IO[str]) -> None:
    head = json.dumps(_head(report), ensure_ascii=False)
    out.write(head[:-1])  # reopen the object to append "messages"
    out.write(', "messages": [')
    first = True
    frame = report.messages.select(message_columns(report))
    for chunk in frame.iter_slices(n_rows=_SLICE_ROWS):
        # NDJSON holds one object per line and escapes newlines inside strings,
        # so joining its lines with commas yields a valid JSON array body.
        lines = chunk.write_ndjson().rstrip("\n")
        if not lines:
            continue
        out.write("\n" if first else ",\n")
        out.write(lines.replace("\n", ",\n"))
        first = False
    out.write("\n]}\n" if not first else "]}\n")


def from_json_dict(
    document: Mapping[str, Any],
    *,
    code_texts: Mapping[str, str] | None = None,
    multi_table: bool | None = None,
) -> Report:
    """Rebuild a report from its JSON form, e.g. to print a stored report again.

    The JSON does not carry the codes' explanations; pass them (from the dataset specification)
    as `code_texts`. `multi_table` defaults to whether the messages carry a "table" key.
    """
    try:
        return _from_json(document, code_texts or {}, multi_table)
    except StoredReportError:
        raise
    except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as error:
        raise StoredReportError(f"onverwachte inhoud ({type(error).__name__})") from None


def _from_json(
    document: Mapping[str, Any],
    code_texts: Mapping[str, str],
    multi_table: bool | None,
) -> Report:
    version = document.get("report_version")
    if version != REPORT_VERSION:
        raise StoredReportError(f"onbekende rapportversie {version!r}")
    mode = document["mode"]
    if mode not in ("test", "production"):
        raise StoredReportError(f"onbekende modus {mode!r}")
    summary = document["summary"]
    file = document["file"]
    raw_messages = document["messages"]
    messages = (
        pl.from_dicts(raw_messages, schema=MESSAGE_SCHEMA)
        if raw_messages
        else pl.DataFrame(schema=MESSAGE_SCHEMA)
    )
    if multi_table is None:
        multi_table = any("table" in message for message in raw_messages[:1])
    stored = summary.get("stored")
    fingerprints = document.get("pseudonymisation") or {}
    report = Report.from_check(
        dataset=document["dataset"],
        dataset_version=document["dataset_version"],
        mode=mode,
        file=FileInfo(
            name=file["name"],
            sha256=file["sha256"],
            bytes=int(file["bytes"]),
            format=file["format"],
            encoding=file["encoding"],
        ),
        records=int(summary["records"]),
        rejected=int(summary["rejected"]),
        file_rejected=bool(summary["file_rejected"]),
        messages=messages,
        code_texts=dict(code_texts),
        multi_table=multi_table,
    )
    if stored is None and not fingerprints:
        return report  # an offline check's report: the registry added nothing
    return report.with_registry_result(
        fingerprints={str(k): str(v) for k, v in fingerprints.items()},
        stored=None
        if stored is None
        else Stored(
            new=int(stored["new"]),
            updated=int(stored["updated"]),
            unchanged=int(stored["unchanged"]),
        ),
    )
