"""The source's step before any upload in a test: make the stage-1 file of an export, as
`zorgbroker submit` does, so the upload service is handed only that (it refuses a raw export)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from zorgbroker.pseudonymisation.source_side import make_stage1


def stage1_of(
    export: Path,
    *,
    dataset: str,
    mode: str,
    home: Path,
    organisation: str,
    today: dt.date,
    ttp_public_key: bytes | None = None,
) -> Path:
    """The stage-1 file of `export` beside it (`<name>.stap1.zip`), made with the project key in
    `home` (production) or a throw-away key (test); for a re-identifiable registry BSNs are
    sealed to `ttp_public_key`, by default the embedded TTP's in `home`."""
    output = export.with_name(f"{export.name}.stap1.zip")
    make_stage1(
        export,
        dataset,
        output,
        mode="production" if mode == "production" else "test",
        home=home,
        organisation=organisation,
        today=today,
        display_name=export.name,
        ttp_public_key=ttp_public_key,
    )
    return output


def make_ttp_unusable(home: Path) -> Callable[[], None]:
    """Put a file where the embedded TTP's folder in `home` is, so the registry's stage 2 fails
    (the source has sealed its BSNs to that TTP already); what it returns puts the TTP back."""
    ttp = home / "ttp"
    aside = home / "ttp.aside"
    if ttp.exists():
        ttp.rename(aside)
    ttp.parent.mkdir(parents=True, exist_ok=True)
    ttp.write_text("geen map")

    def restore() -> None:
        ttp.unlink()
        if aside.exists():
            aside.rename(ttp)

    return restore
