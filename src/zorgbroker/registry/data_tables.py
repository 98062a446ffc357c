"""The tables of accepted records, made and kept up to date from the dataset layouts.

They are created when the registry starts (after the migrations), in the same locked transaction,
and grow the columns and indexes a newer specification adds. A column is never dropped or
retyped: old records keep what they were stored with. An index of ours that the layout no longer
wants is dropped (every index costs every import). A serial table (`layout.ValueTable`) made for
a table that already holds records is filled from them. See `layout` for the design.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    inspect,
    text,
)

from zorgbroker.registry.columns import ID, PARENT_ID, UPLOAD_ID, VALUE
from zorgbroker.registry.layout import TableLayout, ValueTable
from zorgbroker.registry.sql_types import sql_type

_METADATA = MetaData()
_TABLES: dict[str, Table] = {}


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


def value_table_for(values: ValueTable) -> Table:
    """The SQLAlchemy table of a serial table; its primary key is its one index."""
    known = _TABLES.get(values.sql_name)
    if known is not None:
        return known
    table = Table(
        values.sql_name,
        _METADATA,
        Column(VALUE, Text, nullable=False),
        Column(ID, BigInteger, nullable=False),
        PrimaryKeyConstraint(VALUE, ID, name=f"pk_{values.sql_name}"[:63]),
    )
    _TABLES[values.sql_name] = table
    return table


def obsolete_indexes(conn: Connection, layout: TableLayout) -> list[str]:
    """Indexes named like ours on the table that the layout no longer wants."""
    wanted = {index.name for index in table_for(layout).indexes}
    prefix = f"ix_{layout.sql_name}_"
    present = [ix["name"] for ix in inspect(conn).get_indexes(layout.sql_name)]
    return [n for n in present if n and n.startswith(prefix) and n not in wanted]


def _sync_values(conn: Connection, layout: TableLayout, *, fill: bool) -> None:
    values = layout.values
    if values is None:
        return
    if inspect(conn).has_table(values.sql_name):
        return
    value_table_for(values).create(conn)
    if fill:
        preparer = conn.dialect.identifier_preparer
        source = preparer.quote(layout.sql_name)
        selects = " UNION ".join(
            f"SELECT {preparer.quote(c)}, {preparer.quote(ID)} FROM {source} "
            f"WHERE {preparer.quote(c)} IS NOT NULL"
            for c in values.columns
        )
        conn.execute(
            text(
                f"INSERT INTO {preparer.quote(values.sql_name)} "
                f"({preparer.quote(VALUE)}, {preparer.quote(ID)}) {selects}"
            )
        )


def sync(conn: Connection, layout: TableLayout) -> None:
    """Create the table, or add the columns and indexes a newer specification brings."""
    table = table_for(layout)
    inspector = inspect(conn)
    if not inspector.has_table(layout.sql_name):
        table.create(conn)
        _sync_values(conn, layout, fill=False)
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
    for name in obsolete_indexes(conn, layout):
        conn.execute(text(f"DROP INDEX {preparer.quote(name)}"))
    _sync_values(conn, layout, fill=True)
