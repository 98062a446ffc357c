"""Opening the registry to read the upload history (`open_registry_for_reading`): by its Alembic
revision alone when it is current, and brought up to date as before when it is behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect

from zorgbroker.registry import registry_db
from zorgbroker.registry.database import engine_for
from zorgbroker.registry.registry_db import (
    CHAIN,
    forget_prepared,
    head_revision,
    open_registry_database,
    open_registry_for_reading,
    stored_revision,
)
from zorgbroker.uploads.history import UploadHistory


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    assert head_revision() is not None
    assert head_revision() == CHAIN.head()


def test_a_registry_behind_the_newest_migration_is_brought_up_to_date_when_listed(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    engine = engine_for(url)
    with engine.begin() as conn:
        command.upgrade(CHAIN.config(conn), "0002")
    with engine.connect() as conn:
        assert stored_revision(conn) == "0002"
    forget_prepared()

    opened = open_registry_for_reading(url)

    with opened.connect() as conn:
        assert stored_revision(conn) == head_revision()
        # The dataset tables were made too, as `open_registry_database` makes them.
        assert inspect(conn).has_table("data_nhr_pmicd__main")
    assert UploadHistory(opened).list() == []


def test_a_current_registry_is_read_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    open_registry_database(url, create=True)
    forget_prepared()

    def no_full_check(url: str, *, create: bool = False) -> Engine:
        raise AssertionError("the full schema check ran")

    monkeypatch.setattr(registry_db, "open_registry_database", no_full_check)
    opened = open_registry_for_reading(url)
    with opened.connect() as conn:
        assert stored_revision(conn) == head_revision()
    assert UploadHistory(opened).list() == []
