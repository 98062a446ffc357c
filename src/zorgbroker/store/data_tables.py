"""The tables of accepted records, made and kept up to date from the dataset layouts.

They are created when the registry starts (after the migrations), in the same locked transaction,
and grow the columns and indexes a newer specification adds. A column is never dropped or
retyped: old records keep what they were stored with. See `layout` for the design.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Double,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.types import TypeEngine

from zorgbroker.store.layout import ID, PARENT_ID, UPLOAD_ID, LayoutError, TableLayout

_METADATA = MetaData()
_TABLES: dict[str, Table] = {}


def sql_type(dtype: pl.DataType) -> TypeEngine[Any]:
    if dtype == pl.String:
        return Text()
    if dtype == pl.Int64:
        return BigInteger()
    if dtype in (pl.Int32, pl.Int16, pl.Int8):
        return Integer()
    if dtype == pl.Float64:
        return Double()
    if dtype == pl.Date:
        return Date()
    if dtype == pl.Boolean:
        return Boolean()
    raise LayoutError(f"no database type for {dtype}")


def index_name(layout: TableLayout, columns: tuple[str, ...]) -> str:
    # PostgreSQL cuts names at 63 bytes; keep them short and unique per table.
    joined = "_".join(c.strip("_") for c in columns)
    return f"ix_{layout.sql_name}_{joined}"[:63]


def table_for(layout: TableLayout) -> Table:
    """The SQLAlchemy table of a layout (one object per table name and process)."""
    known = _TABLES.get(layout.sql_name)
    if known is not None and [c.name for c in known.columns] == list(layout.schema):
        return known
    if known is not None:
        _METADATA.remove(known)
    columns: list[Column[object]] = [
        Column(
            ID, BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
        ),
        Column(UPLOAD_ID, Integer, nullable=False),
    ]
    if layout.part_of:
        columns.append(Column(PARENT_ID, BigInteger, nullable=False))
    columns += [Column(name, sql_type(dtype)) for name, dtype in layout.columns.items()]
    indexes = [
        Index(
            index_name(layout, ix.columns),
            *ix.columns,
            postgresql_where=text(f"{ix.columns[0]} IS NOT NULL") if ix.partial else None,
            sqlite_where=text(f"{ix.columns[0]} IS NOT NULL") if ix.partial else None,
        )
        for ix in layout.indexes
    ]
    table = Table(layout.sql_name, _METADATA, *columns, *indexes)
    _TABLES[layout.sql_name] = table
    return table


def sync(conn: Connection, layout: TableLayout) -> None:
    """Create the table, or add the columns and indexes a newer specification brings."""
    table = table_for(layout)
    inspector = inspect(conn)
    if not inspector.has_table(layout.sql_name):
        table.create(conn)
        return
    present = {c["name"] for c in inspector.get_columns(layout.sql_name)}
    preparer = conn.dialect.identifier_preparer
    for column in table.columns:
        if column.name not in present:
            ddl = column.type.compile(dialect=conn.dialect)
            conn.execute(
                text(
                    f"ALTER TABLE {preparer.quote(layout.sql_name)} "
                    f"ADD COLUMN {preparer.quote(column.name)} {ddl}"
                )
            )
    indexes = {ix["name"] for ix in inspector.get_indexes(layout.sql_name)}
    for index in table.indexes:
        if index.name not in indexes:
            index.create(conn)
