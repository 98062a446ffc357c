"""The registry's side of an upload whose stage-1 file was made at the source: what the upload
service calls instead of checking a raw export.

    manifest = read_manifest(path)            # Stage1Refused: refuse, delete, keep nothing
    relay = Stage1Relay.for_mode(mode, registry=..., source=...,
                                 source_key_fingerprint=manifest.source_key_fingerprint, ttp=...)
    with relay.storing_in_background() as settle:
        outcome = check_stage1_file(path, spec, replace(options, relay=relay.pseudonymise_field))
        ...                                   # report.pseudonymisation = relay.fingerprints()
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from zorgbroker.pseudonymisation.stage1_reader import Stage1Refused, opened_stage1_file


def check_stage1_file(path: Path, spec: Any, options: Any, display_name: str | None = None) -> Any:
    """The registry's check of a stage-1 file (`intake.api.check_stage1`), or, for anything that
    is not an acceptable stage-1 file, the outcome of its refusal: one BF message (BF-020, BF-021
    or BF-022) whose detail names table, column and row but no value. Nothing of a refused file
    is kept here; the caller deletes it."""
    from zorgbroker.intake.api import check_stage1, refusal

    try:
        with opened_stage1_file(path, spec, registry=spec.registry) as tables:
            return check_stage1(spec, tables.check_input(), options)
    except Stage1Refused as refused:
        return refusal(spec, options, file_info(path, display_name), refused.code, refused.detail)


def file_info(path: Path, display_name: str | None) -> Any:
    """What a report says about a file the registry refused: its name, SHA-256 and size."""
    from zorgbroker.intake.api import FileInfo

    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return FileInfo(display_name or path.name, digest.hexdigest(), size, "unknown", None)
