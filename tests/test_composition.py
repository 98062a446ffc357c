"""The composition root: a registry database is created only on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import zorgbroker.composition
from zorgbroker.composition import init_registry, open_registry
from zorgbroker.registry.registry_db import RegistryMissing
from zorgbroker.settings import get_settings


def run_zorgbroker(tmp_path: Path, *args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZORGBROKER_HOME": str(tmp_path / "home"), "ZORGBROKER_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "zorgbroker", *args],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("command", [["uploads"], ["report", "1"], ["devices", "--serial", "X1"]])
def test_a_mistyped_sqlite_address_is_an_error_not_a_new_empty_registry(
    tmp_path: Path, command: list[str]
):
    done = run_zorgbroker(tmp_path, *command, url="sqlite:////verkeerde/map/r.sqlite3")

    assert done.returncode == 2
    assert "De registratiedatabase /verkeerde/map/r.sqlite3 bestaat niet" in done.stderr
    assert "ZORGBROKER_DATABASE_URL" in done.stderr and "zorgbroker init" in done.stderr
    assert "Traceback" not in done.stderr
    assert not Path("/verkeerde").exists()


def test_zorgbroker_init_creates_the_configured_registry(tmp_path: Path):
    database = tmp_path / "elders" / "registratie.sqlite3"
    url = f"sqlite:///{database}"
    assert run_zorgbroker(tmp_path, "uploads", url=url).returncode == 2
    assert not database.exists()

    done = run_zorgbroker(tmp_path, "init", url=url)

    assert done.returncode == 0, done.stderr
    assert "Registratiedatabase klaar" in done.stdout
    assert database.is_file()
    listed = run_zorgbroker(tmp_path, "uploads", url=url)
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


def test_only_the_composition_root_opens_the_registry_database_from_the_settings():
    """Services are handed their engine: nothing else makes one from the settings, and only the
    commands (the glue) ask the composition root for a service. (The job queue's own connection,
    jobs/config.py, is Procrastinate's, not the registry's engine.)"""
    package = Path(zorgbroker.composition.__file__).parent
    makes_engines = {"composition.py", "settings.py", "jobs/config.py",
                     "registry/registry_db.py", "registry/database.py"}  # fmt: skip
    offenders = []
    for path in package.rglob("*.py"):
        name = path.relative_to(package).as_posix()
        text = path.read_text(encoding="utf-8")
        words = ("registry_database_url", "engine_for(", "open_registry_database(")
        if name not in makes_engines and any(word in text for word in words):
            offenders.append(name)
        if "from zorgbroker.composition import" in text and not name.endswith("cli.py"):
            offenders.append(name)
    assert offenders == []


def test_upload_processing_relays_to_the_ttp_service_the_settings_name(tmp_path: Path):
    """The demo hands its TTP process to the platform through the settings: the relays the
    upload service makes ask that service, and nothing is made under the platform's own home."""
    from pydantic import SecretStr

    from zorgbroker.pseudonymisation.service import serving
    from zorgbroker.pseudonymisation.ttp import TrustedThirdParty
    from zorgbroker.uploads.service import UploadService

    ttp_home = tmp_path / "ttp-process"
    token = TrustedThirdParty(ttp_home).add_source("01234567")
    with serving(ttp_home) as url:
        settings = get_settings().model_copy(
            update={
                "home": tmp_path / "home",
                "database_url": None,
                "ttp_url": url,
                "ttp_token": SecretStr(token),
            }
        )
        service: UploadService = zorgbroker.composition.upload_service(settings)
        relay = service._relays(  # the factory the service is handed
            "production", registry="nhr", source="01234567", source_key_fingerprint="f"
        )
        expected = TrustedThirdParty(ttp_home).key_info("nhr")
        assert relay.fingerprints()["registry_key"] == expected.fingerprint
    assert not (tmp_path / "home" / "ttp").exists()
