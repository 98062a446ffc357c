"""Raw exports posted by mistake to the portal's upload endpoints, and a watch on what the
registry side writes while it takes a body in: nothing of a refused body may be written, not
even to a temporary file that is deleted a moment later."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import starlette.formparsers

from tests.intake.conftest import write_csv
from tests.registry.conftest import NHR_HEADER, serial_rows
from zorgbroker.intake.api import generate
from zorgbroker.portal.api import receiving

#: Enough rows that the CSV is larger than Starlette's 1 MB spool (once written to disk first).
RAW_ROWS = 6000
RAW_KINDS = ["csv", "xlsx", "zip"]
#: What the refusal (BF-020) says of each, after the file's name.
RAW_REFUSALS = {
    "csv": "het bestand is geen stap-1-archief (ZIP)",
    "xlsx": "het archief begint niet met een stap-1-tabel of het stap-1-manifest",
    "zip": "tabel main heeft geen stap-1-kopregel",
}


def raw_export(folder: Path, kind: str) -> tuple[Path, bytes]:
    """A raw export of nhr-pmicd as a hospital holds it (CSV, XLSX, or a ZIP whose member has
    the very name of a stage-1 table member) and a BSN-bearing line that must never be written."""
    folder.mkdir(parents=True, exist_ok=True)
    csv = write_csv(folder / "export.csv", NHR_HEADER, serial_rows(RAW_ROWS))
    line = csv.read_bytes().splitlines()[1]
    if kind == "csv":
        return csv, line
    if kind == "zip":
        bundle = folder / "export.zip"
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(csv, "main.csv")
        return bundle, line
    xlsx = folder / "export.xlsx"
    generate("nhr-pmicd", rows=200, out=xlsx, seed=3, today=dt.date(2026, 11, 22))
    return xlsx, line


class WrittenFiles:
    """Every file the receiving code opened for a file part, and every spooled temporary file
    Starlette's own form parser made (the portal no longer uses it for uploads)."""

    def __init__(self) -> None:
        self.opened: list[Path] = []
        self.spooled = 0


@contextmanager
def watched_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[WrittenFiles]:
    seen = WrittenFiles()
    original_open = receiving._Receiver._open
    original_spool = starlette.formparsers.SpooledTemporaryFile

    def opening(self: Any) -> None:
        original_open(self)
        seen.opened.append(self.form.file)

    def spooling(*args: Any, **kwargs: Any) -> Any:
        seen.spooled += 1
        return original_spool(*args, **kwargs)

    monkeypatch.setattr(receiving._Receiver, "_open", opening)
    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", spooling)
    yield seen


def files_holding(line: bytes, *folders: Path) -> list[Path]:
    """Files under `folders` that hold `line` (a raw export's row with its BSN)."""
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            try:
                if path.is_file() and line in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found
