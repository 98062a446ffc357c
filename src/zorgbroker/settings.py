"""Every setting of an installation, from environment variables (documented in the README)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    """The per-user data folder: $XDG_DATA_HOME/zorgbroker or ~/.local/share/zorgbroker."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "zorgbroker"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZORGBROKER_", extra="ignore")

    #: Everything an embedded installation writes lives below this folder.
    home: Path = Field(default_factory=default_home)
    #: The registry's database; SQLite under `home` when unset.
    database_url: str | None = None

    @property
    def registry_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'registry.sqlite3'}"


@cache
def _cached() -> Settings:
    return Settings()


def get_settings(*, fresh: bool = False) -> Settings:
    """The settings; `fresh=True` re-reads the environment (tests change it between runs)."""
    if fresh:
        _cached.cache_clear()
    return _cached()
