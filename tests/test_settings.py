"""Settings a user gets wrong are named, in Dutch, with exit status 2: never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from zorgbroker.settings import Settings


def zorgbroker(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ZORGBROKER_")}
    return subprocess.run(
        [sys.executable, "-m", "zorgbroker", "uploads"],
        env={**clean, "ZORGBROKER_HOME": str(home), **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "said"),
    [
        (
            {"ZORGBROKER_DATABASE_URL": "mysql://beheer:geheim123@db/registry"},
            "ZORGBROKER_DATABASE_URL: zorgbroker werkt met PostgreSQL of SQLite, niet met 'mysql'",
        ),
        (
            {"ZORGBROKER_DATABASE_URL": "postgresql+asyncpg://beheer:geheim123@db/registry"},
            "ZORGBROKER_DATABASE_URL: gebruik het stuurprogramma psycopg",
        ),
        ({"ZORGBROKER_DATABASE_URL": "registry.sqlite3"}, "geen database-adres"),
        ({"ZORGBROKER_JOBS": "celery"}, "ZORGBROKER_JOBS: moet 'inline' of 'procrastinate' zijn"),
        ({"ZORGBROKER_IMPORT_BATCH_ROWS": "0"}, "ZORGBROKER_IMPORT_BATCH_ROWS: moet minstens 1"),
        ({"ZORGBROKER_SMTP_PORT": "smtp"}, "ZORGBROKER_SMTP_PORT: moet een geheel getal zijn"),
        (
            {"ZORGBROKER_MAIL_TO_ORGANISATIONS": "01234567=kwaliteit@example.nl"},
            "ZORGBROKER_MAIL_TO_ORGANISATIONS: geen geldige JSON",
        ),
    ],
)
def test_a_wrong_setting_is_named_and_nothing_runs(tmp_path: Path, env: dict[str, str], said: str):
    result = zorgbroker(tmp_path, **env)

    assert result.returncode == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert "geheim123" not in result.stderr  # a database address may carry a password
    assert not (tmp_path / "registry.sqlite3").exists()


def test_every_wrong_setting_is_named_at_once(tmp_path: Path):
    result = zorgbroker(tmp_path, ZORGBROKER_JOBS="celery", ZORGBROKER_SMTP_SECURITY="tls")
    assert result.returncode == 2
    assert "ZORGBROKER_JOBS" in result.stderr
    assert "ZORGBROKER_SMTP_SECURITY: moet 'starttls', 'ssl' of 'none' zijn" in result.stderr


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://beheer@db/registry", "postgresql+psycopg://beheer@db/registry"),
        ("postgres://beheer@db/registry", "postgresql+psycopg://beheer@db/registry"),
        ("postgresql+psycopg://beheer@db/registry", "postgresql+psycopg://beheer@db/registry"),
        ("sqlite:////srv/registry.sqlite3", "sqlite:////srv/registry.sqlite3"),
    ],
)
def test_the_libpq_forms_people_copy_use_the_shipped_driver(given: str, used: str):
    assert Settings(database_url=given).registry_database_url == used


def test_a_good_setting_still_runs(tmp_path: Path):
    result = zorgbroker(tmp_path, ZORGBROKER_JOBS="inline")
    assert (result.returncode, result.stderr) == (0, "")
    assert "Nog geen aanleveringen" in result.stdout
