"""The source side of an upload as one call: find the project's key and the TTP's sealing key,
and write the stage-1 file. `zorgbroker pseudonymise` and `zorgbroker submit` both use it; the
registry is then handed only the stage-1 file."""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from zorgbroker.pseudonymisation.custody import KEY_BYTES, source_dir, source_key
from zorgbroker.pseudonymisation.method import fingerprint, is_reidentifiable
from zorgbroker.pseudonymisation.source_file import Stage1Summary, write_stage1_file

Mode = Literal["test", "production"]


@dataclass(frozen=True)
class Stage1Made:
    path: Path
    summary: Stage1Summary
    #: Fingerprint of the source key used (a throw-away key in test mode).
    source_key_fingerprint: str


def ttp_public_key_for_source(home: Path, given: Path | None = None) -> bytes:
    """The TTP's sealing key as this source knows it: a file handed over by the TTP, else the
    service named by ZORGBROKER_TTP_URL, else (the embedded default) the TTP in the same
    installation."""
    for path in [given, source_dir(home) / "ttp-seal.pub"]:
        if path is not None and path.exists():
            return base64.b64decode(path.read_text(encoding="ascii").strip())
    url = os.environ.get("ZORGBROKER_TTP_URL")
    if url:
        from zorgbroker.pseudonymisation.client import HttpTTP

        with HttpTTP(url, os.environ.get("ZORGBROKER_TTP_TOKEN", "")) as client:
            return client.seal_public_key()
    from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

    return TrustedThirdParty(home).seal_public_key()


def make_stage1(
    export: Path,
    dataset: str,
    output: Path,
    *,
    mode: Mode,
    home: Path,
    organisation: str | None = None,
    today: dt.date | None = None,
    display_name: str | None = None,
    ttp_public_key: bytes | None = None,
) -> Stage1Made:
    """Check `export` at the source and write its stage-1 file to `output`.

    Production: the project key of the dataset's registry (created on first use) and, for a
    re-identifiable registry, BSNs sealed for the TTP. Test: a random source key that is never
    stored and nothing sealed, as `Pseudonymiser.for_mode("test")` does.
    """
    from zorgbroker.intake.api import load_dataset

    registry = load_dataset(dataset).registry
    if mode == "test":
        key = secrets.token_bytes(KEY_BYTES)
        public = None
    else:
        key = source_key(home, registry)
        public = (
            ttp_public_key or ttp_public_key_for_source(home)
            if is_reidentifiable(registry)
            else None
        )
    summary = write_stage1_file(
        export,
        dataset,
        registry,
        output,
        key=key,
        ttp_public_key=public,
        today=today,
        organisation=organisation,
        display_name=display_name,
        seal=mode == "production",
    )
    return Stage1Made(output, summary, fingerprint(key))
