"""The manifest of a stage-1 file: what makes it recognisable, and what the source found.

A stage-1 file is a ZIP holding `zorgbroker-stap1.json` (this manifest) and one CSV (`;`, UTF-8)
per table of the dataset. The manifest names the dataset and its version, the registry, the
pseudonymisation method and the fingerprint of the project's source key, and carries what only
the source could check: the file-level messages about the export itself (its format, encoding,
columns, repeated rows) and, when the export was refused, only those.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from zorgbroker.intake import api as intake_api

#: Name of the manifest inside a stage-1 ZIP.
MANIFEST_NAME = "zorgbroker-stap1.json"
#: What the manifest's `format` says.
FORMAT = "zorgbroker-stap1"
FORMAT_VERSION = 1
#: Column of each table holding the source's findings per row (`field=code`, space-separated),
#: named by the check that reads it.
FINDINGS_COLUMN: str = intake_api.FINDINGS_COLUMN


@dataclass(frozen=True)
class FileMessage:
    """A file-level message of the source's check (never a value of an identifying field)."""

    code: str
    table: str | None = None
    field: str | None = None
    value: str | None = None
    #: The reader's explanation where it replaces the code's standard text.
    text: str | None = None


@dataclass(frozen=True)
class Manifest:
    dataset: str
    dataset_version: str
    registry: str
    method: str
    source_key_fingerprint: str
    #: The day the source checked the export (ISO date).
    checked_on: str
    #: The export as the source read it: name, sha256, bytes, format, encoding (a report's
    #: FileInfo), so the registry's report describes the file the source sent.
    file: dict[str, Any]
    #: Per table: the member name in the ZIP, its records, and the date format of the export.
    members: dict[str, str] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    file_messages: list[FileMessage] = field(default_factory=list)
    #: The source's check refused the export (a BF message): no tables travel, only the messages.
    refused: bool = False
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Raises ValueError for anything that is not a manifest of this format."""
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError("het manifest is geen geldige JSON") from error
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("het manifest is niet van een stap-1-bestand")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"onbekende versie {data.get('format_version')!r} van het manifest")
        try:
            messages = [FileMessage(**m) for m in data.pop("file_messages", [])]
            manifest = cls(**data, file_messages=messages)
        except TypeError as error:
            raise ValueError("het manifest mist velden of heeft onbekende velden") from error
        _check_types(manifest)
        return manifest


def _check_types(manifest: Manifest) -> None:
    texts = [
        manifest.dataset,
        manifest.dataset_version,
        manifest.registry,
        manifest.method,
        manifest.source_key_fingerprint,
        manifest.checked_on,
    ]
    if not all(isinstance(t, str) for t in texts):
        raise ValueError("het manifest heeft velden van het verkeerde type")
    file_keys = {"name": str, "sha256": str, "bytes": int, "format": str, "encoding": str}
    if (
        not isinstance(manifest.file, dict)
        or set(manifest.file) != set(file_keys)
        or not all(
            isinstance(manifest.file[k], t) or (k == "encoding" and manifest.file[k] is None)
            for k, t in file_keys.items()
        )
    ):
        raise ValueError("het manifest beschrijft het bestand niet zoals verwacht")
    for mapping, kind in (
        (manifest.members, str),
        (manifest.records, int),
        (manifest.date_formats, str),
    ):
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, kind) for k, v in mapping.items()
        ):
            raise ValueError("het manifest heeft velden van het verkeerde type")
