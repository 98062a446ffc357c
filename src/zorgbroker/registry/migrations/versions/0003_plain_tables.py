"""Segmented (partitioned) data tables become plain tables again, every row kept.

Until this revision, a PostgreSQL data table was a parent partitioned by a `_segment` column,
one partition per large import, with a primary key widened by that column (docs/adr/0001). Each
such parent is replaced by a plain table of the same name, columns, primary key (enforced by
the database again) and indexes, holding all rows of all its segments. The data tables are not
in the ORM metadata (they follow the dataset specifications, `data_tables`), so they are found
in the catalog. SQLite never had segments: nothing to do there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import Connection

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEGMENT = "_segment"


def _segmented_tables(conn: Connection) -> list[str]:
    """Partitioned tables of this schema that have a segment column."""
    return list(
        conn.exec_driver_sql(
            "SELECT c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = %(segment)s "
            "AND NOT a.attisdropped WHERE c.relkind = 'p' ORDER BY c.relname",
            {"segment": SEGMENT},
        ).scalars()
    )


def _columns(conn: Connection, table: str) -> list[tuple[str, str, bool]]:
    """(name, type, not null) of the table's columns but the segment's, in order."""
    found = conn.exec_driver_sql(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        "WHERE attrelid = to_regclass(%(table)s) AND attnum > 0 AND NOT attisdropped "
        "AND attname <> %(segment)s ORDER BY attnum",
        {"table": table, "segment": SEGMENT},
    )
    return [(str(name), str(kind), bool(not_null)) for name, kind, not_null in found]


def _primary_key(conn: Connection, table: str) -> tuple[str, list[str]] | None:
    """The primary key's name and its columns but the segment's."""
    found = conn.exec_driver_sql(
        "SELECT con.conname, ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY "
        "AS k(attnum, position) JOIN pg_attribute a ON a.attrelid = con.conrelid "
        "AND a.attnum = k.attnum ORDER BY k.position) "
        "FROM pg_constraint con WHERE con.conrelid = to_regclass(%(table)s) AND con.contype = 'p'",
        {"table": table},
    ).one_or_none()
    if found is None:
        return None
    name, columns = found
    return str(name), [str(c) for c in columns if c != SEGMENT]


def _index_definitions(conn: Connection, table: str) -> list[str]:
    """CREATE INDEX statements of the parent's own indexes (the primary key's and any that
    include the segment excepted), for a plain table of the same name."""
    found = conn.exec_driver_sql(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = to_regclass(%(table)s) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.indrelid "
        "AND a.attname = %(segment)s AND a.attnum = ANY(i.indkey::int2[])) "
        "ORDER BY i.indexrelid",
        {"table": table, "segment": SEGMENT},
    ).scalars()
    # A partitioned parent's index is defined `ON ONLY` the parent; a plain table has no ONLY.
    return [str(sql).replace(" ON ONLY ", " ON ", 1) for sql in found]


def make_plain(conn: Connection, table: str) -> None:
    """Replace the partitioned `table` by a plain one with the same rows, key and indexes."""
    q = conn.dialect.identifier_preparer.quote
    columns = _columns(conn, table)
    key = _primary_key(conn, table)
    indexes = _index_definitions(conn, table)
    old = "zb_segmented_" + table[:40]
    conn.exec_driver_sql(f"ALTER TABLE {q(table)} RENAME TO {q(old)}")
    listed = ", ".join(q(name) for name, _, _ in columns)
    defined = ", ".join(
        f"{q(name)} {kind}{' NOT NULL' if not_null else ''}" for name, kind, not_null in columns
    )
    conn.exec_driver_sql(f"CREATE TABLE {q(table)} ({defined})")
    conn.exec_driver_sql(f"INSERT INTO {q(table)} ({listed}) SELECT {listed} FROM {q(old)}")
    # Dropping the parent drops its segments and frees the names of its key and indexes.
    conn.exec_driver_sql(f"DROP TABLE {q(old)}")
    # Indexes are built after the rows are in: by sorting, page by page.
    if key is not None and key[1]:
        name, key_columns = key
        conn.exec_driver_sql(
            f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} "
            f"PRIMARY KEY ({', '.join(q(c) for c in key_columns)})"
        )
    for sql in indexes:
        conn.exec_driver_sql(sql)
    conn.exec_driver_sql(f"ANALYZE {q(table)}")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in _segmented_tables(conn):
        make_plain(conn, table)


def downgrade() -> None:
    # Nothing to undo: the code before this revision turned a plain table into a segmented
    # one itself when the registry opened.
    pass
