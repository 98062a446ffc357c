"""Migration 0003: a registry whose PostgreSQL tables were segmented (partitioned by import, the
code before 2026-12-07) gets plain tables with every row, its primary key enforced again, and
the same indexes; a SQLite registry is left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from tests.registry.conftest import Registry, new_postgres_database, serial_rows
from zorgbroker.composition import open_registry
from zorgbroker.registry import data_tables
from zorgbroker.registry.layout import layout_for
from zorgbroker.registry.registry_db import forget_prepared, head_revision
from zorgbroker.settings import get_settings

SEGMENT = "_segment"


def _segment_like_before(conn: Connection, name: str, bounds: list[int]) -> None:
    """Turn the plain table `name` into what the segmented code made of it: a parent
    partitioned by `_segment` with the key widened by it and the indexes on the parent; the rows
    with an id up to bounds[0] in the base segment 0, up to bounds[1] in segment 1, and so on,
    each later segment filled, indexed and then attached as a large import did."""
    inspector = inspect(conn)
    key = inspector.get_pk_constraint(name)
    indexes = inspector.get_indexes(name)
    old = f"{name}_before"
    conn.exec_driver_sql(f'ALTER TABLE "{name}" RENAME TO "{old}"')
    conn.exec_driver_sql(f'ALTER TABLE "{old}" DROP CONSTRAINT "{key["name"]}"')
    for index in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{index["name"]}"')
    key_columns = ", ".join(f'"{c}"' for c in [*key["constrained_columns"], SEGMENT])
    conn.exec_driver_sql(
        f'CREATE TABLE "{name}" (LIKE "{old}", "{SEGMENT}" integer NOT NULL DEFAULT 0, '
        f'CONSTRAINT "{key["name"]}" PRIMARY KEY ({key_columns})) PARTITION BY LIST ("{SEGMENT}")'
    )
    for index in indexes:
        columns = ", ".join(f'"{c}"' for c in index["column_names"])
        where = index.get("dialect_options", {}).get("postgresql_where")
        conn.exec_driver_sql(
            f'CREATE INDEX "{index["name"]}" ON "{name}" ({columns})'
            + (f" WHERE {where}" if where else "")
        )
    conn.exec_driver_sql(f'CREATE TABLE "{name}__s0" PARTITION OF "{name}" FOR VALUES IN (0)')
    lower = 0
    for number, upper in enumerate(bounds):
        rows = f'SELECT * FROM "{old}" WHERE _id > {lower} AND _id <= {upper}'
        if number == 0:
            conn.exec_driver_sql(f'INSERT INTO "{name}" {rows}')
        else:
            segment = f"{name}__s{number}"
            conn.exec_driver_sql(
                f'CREATE TABLE "{segment}" (LIKE "{name}" INCLUDING DEFAULTS, '
                f'CHECK ("{SEGMENT}" = {number}))'
            )
            listed = ", ".join(f'"{c["name"]}"' for c in inspect(conn).get_columns(old))
            conn.exec_driver_sql(
                f'INSERT INTO "{segment}" ({listed}, "{SEGMENT}") '
                f'SELECT {listed}, {number} FROM "{old}" WHERE _id > {lower} AND _id <= {upper}'
            )
            conn.exec_driver_sql(f'ALTER TABLE "{segment}" ADD PRIMARY KEY ({key_columns})')
            conn.exec_driver_sql(
                f'ALTER TABLE "{name}" ATTACH PARTITION "{segment}" FOR VALUES IN ({number})'
            )
        lower = upper
    conn.exec_driver_sql(f'DROP TABLE "{old}"')


def _rows(conn: Connection, name: str) -> pl.DataFrame:
    columns = [c["name"] for c in inspect(conn).get_columns(name) if c["name"] != SEGMENT]
    listed = ", ".join(f'"{c}"' for c in columns)
    return pl.read_database(
        f'SELECT {listed} FROM "{name}" ORDER BY {listed}', conn, infer_schema_length=None
    )


def _shape(conn: Connection, name: str) -> tuple[list[str], list[tuple[str, tuple[str, ...]]]]:
    inspector = inspect(conn)
    key = inspector.get_pk_constraint(name)["constrained_columns"]
    indexes = sorted(
        (str(i["name"]), tuple(str(c) for c in i["column_names"]))
        for i in inspector.get_indexes(name)
    )
    return key, indexes


@pytest.fixture
def postgres_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Registry, Engine]]:
    with new_postgres_database() as url:
        monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("ZORGBROKER_DATABASE_URL", url)
        monkeypatch.delenv("ZORGBROKER_TTP_URL", raising=False)
        files = tmp_path / "files"
        files.mkdir()
        settings = get_settings(fresh=True)
        forget_prepared()
        yield Registry(settings, files, "postgres"), open_registry(settings)
        forget_prepared()


def _undo_later_revisions(conn: Connection) -> None:
    """Back to revision 0002's schema for what the revisions after 0003 added (0004: the
    upload's progress and the report's Parquet messages), so the upgrade can run them again."""
    added = [("uploads", "stage"), ("uploads", "stage_started_at"), ("uploads", "stages"),
             ("upload_reports", "messages_parquet")]  # fmt: skip
    for table, column in added:
        conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")


@pytest.mark.postgres
def test_segmented_tables_become_plain_with_every_row_the_key_and_the_indexes(
    postgres_registry: tuple[Registry, Engine],
) -> None:
    registry, engine = postgres_registry
    for start in (0, 30, 60):  # three uploads: rows for three segments
        assert registry.submit(serial_rows(30, start)).stored is not None
    main = layout_for("nhr-pmicd").main
    assert main.values is not None
    names = [main.sql_name, main.values.sql_name]
    with engine.connect() as conn:
        plain = {name: (_rows(conn, name), _shape(conn, name)) for name in names}
    assert plain[main.sql_name][0].height == 90

    with engine.begin() as conn:
        for name in names:
            _segment_like_before(conn, name, [30, 60, 90])
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0002'")
        _undo_later_revisions(conn)
    with engine.connect() as conn:
        assert conn.exec_driver_sql(
            f"SELECT count(*) FROM pg_inherits WHERE inhparent = '{main.sql_name}'::regclass"
        ).scalar_one() == 3  # fmt: skip
        assert conn.exec_driver_sql(f'SELECT count(*) FROM "{main.sql_name}__s2"').scalar() == 30

    forget_prepared()
    open_registry(registry.settings)  # migrates

    with engine.connect() as conn:
        for name in names:
            kind = conn.exec_driver_sql(f"SELECT relkind FROM pg_class WHERE relname = '{name}'")
            assert kind.scalar_one() == "r"
            rows, shape = plain[name]
            assert _rows(conn, name).equals(rows)
            assert _shape(conn, name) == shape
        left = inspect(conn).get_table_names()
        assert not [n for n in left if "__s" in n.removesuffix("__serials") or "segmented" in n]
        assert (
            conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            == head_revision()
        )
    # The database enforces the key again: a second row with a held id is refused.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql(
            f'INSERT INTO "{main.sql_name}__serials" (value, _id) '
            f'SELECT value, _id FROM "{main.sql_name}__serials" LIMIT 1'
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql(
            f'INSERT INTO "{main.sql_name}" SELECT * FROM "{main.sql_name}" LIMIT 1'
        )
    # And the registry carries on: a resent record is known, a serial held by another is found.
    again = registry.submit(serial_rows(1, 0))
    assert again.stored is not None and again.stored.unchanged == 1
    assert registry.held().height == 90


def test_on_sqlite_the_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZORGBROKER_DATABASE_URL", raising=False)
    settings = get_settings(fresh=True)
    forget_prepared()
    registry = Registry(settings, tmp_path, "sqlite")
    registry.submit(serial_rows(5))
    engine = open_registry(settings)
    main = layout_for("nhr-pmicd").main
    with engine.begin() as conn:
        before = _shape(conn, main.sql_name)
        conn.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        _undo_later_revisions(conn)
    forget_prepared()
    open_registry(settings)
    with engine.connect() as conn:
        assert _shape(conn, main.sql_name) == before
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            == head_revision()
        )
    assert before[0] == ["_id"]
    assert sorted(str(i.name) for i in data_tables.table_for(main).indexes) == [
        name for name, _ in before[1]
    ]
    assert registry.held().height == 5
