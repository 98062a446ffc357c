"""Where uploaded files wait until they are processed: names chosen here, owner-only files.

The service puts only files it accepted as stage-1 files made at the source (no BSN, name or
full birth date: docs/pseudonymisation.md, section 8), hands their path to the check, and removes
them; the store itself treats a file as opaque.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredFile:
    #: The store's name for the file (what the upload records).
    name: str
    sha256: str
    size: int


class FileStore(Protocol):
    def put(self, source: Path) -> StoredFile:
        """Copy `source` in under a new name, hashing it on the way."""

    def path(self, name: str) -> Path | None:
        """Where the stored file can be read; None when it is gone."""

    def remove(self, name: str | None) -> None:
        """Remove the stored file; nothing when it is gone already."""


class LocalFileStore:
    """Files in `root/folder` (mode 0700, files 0600); names are relative to `root`, so an
    upload recorded by an older version (`uploads/<random>.csv` under ZORGBROKER_HOME) is found."""

    def __init__(self, root: Path, folder: str = "uploads") -> None:
        self._root = root
        self._folder = folder

    def put(self, source: Path) -> StoredFile:
        folder = self._root / self._folder
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        suffix = source.suffix.lower()
        if not (suffix[1:].isalnum() and len(suffix) <= 6):
            suffix = ""
        target = folder / f"{secrets.token_hex(12)}{suffix}"
        digest = hashlib.sha256()
        size = 0
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return StoredFile(str(target.relative_to(self._root)), digest.hexdigest(), size)

    def path(self, name: str) -> Path | None:
        path = self._root / name
        return path if path.is_file() else None

    def remove(self, name: str | None) -> None:
        if name:
            (self._root / name).unlink(missing_ok=True)
