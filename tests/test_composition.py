"""The composition root: a registry database is created only on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zorgbroker.composition import init_registry, open_registry
from zorgbroker.registry.registry_db import RegistryMissing
from zorgbroker.settings import get_settings


def zorgbroker(tmp_path: Path, *args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZORGBROKER_HOME": str(tmp_path / "home"), "ZORGBROKER_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "zorgbroker", *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("command", [["uploads"], ["report", "1"], ["devices", "--serial", "X1"]])
def test_a_mistyped_sqlite_address_is_an_error_not_a_new_empty_registry(
    tmp_path: Path, command: list[str]
):
    done = zorgbroker(tmp_path, *command, url="sqlite:////verkeerde/map/r.sqlite3")

    assert done.returncode == 2
    assert "De registratiedatabase /verkeerde/map/r.sqlite3 bestaat niet" in done.stderr
    assert "ZORGBROKER_DATABASE_URL" in done.stderr and "zorgbroker init" in done.stderr
    assert "Traceback" not in done.stderr
    assert not Path("/verkeerde").exists()


def test_zorgbroker_init_creates_the_configured_registry(tmp_path: Path):
    database = tmp_path / "elders" / "registratie.sqlite3"
    url = f"sqlite:///{database}"
    assert zorgbroker(tmp_path, "uploads", url=url).returncode == 2
    assert not database.exists()

    done = zorgbroker(tmp_path, "init", url=url)

    assert done.returncode == 0, done.stderr
    assert "Registratiedatabase klaar" in done.stdout
    assert database.is_file()
    listed = zorgbroker(tmp_path, "uploads", url=url)
    assert listed.returncode == 0 and "Nog geen aanleveringen." in listed.stdout


def test_the_default_location_is_created_without_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZORGBROKER_DATABASE_URL", raising=False)

    open_registry(get_settings(fresh=True))

    assert (tmp_path / "home" / "registry.sqlite3").is_file()


def test_open_registry_refuses_a_missing_file_and_init_makes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    database = tmp_path / "r.sqlite3"
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZORGBROKER_DATABASE_URL", f"sqlite:///{database}")
    settings = get_settings(fresh=True)

    with pytest.raises(RegistryMissing):
        open_registry(settings)
    init_registry(settings)
    open_registry(settings)
    assert database.is_file()
