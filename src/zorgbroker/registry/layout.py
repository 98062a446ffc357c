"""How a dataset's accepted records are stored, derived from its specification alone.

Design: one typed table per table of a dataset (`data_<dataset>__<table>`), with a column per
field as the registry keeps it (identifying fields pseudonymised or cut to a year, dropped ones
absent), the specification's derived values, and the few values a rule reaches for in another
table (`praktijk.praktijk_agb`, `patienten.bsn`) copied into the row. Three system columns link a
row to the rest: `_id`, `_upload_id` (the upload that stored this version) and, for the parts of
a record (an episode's treatments), `_parent_id`.

Why typed tables and not one generic table with a JSON payload: the comparisons with held data
are joins on a handful of columns (a serial number, a patient pseudonym and a date, an identity),
and the benchmark's million held records must be searched per upload in a few index lookups;
typed columns can carry exactly those indexes on both SQLite and PostgreSQL, hold a row in a
third of the bytes of its JSON (COPY speed is bytes), and let dashboards aggregate without
parsing. The tables are still generic: everything here is computed from the YAML, so a new
registry or a new dataset version is a new YAML file. Columns a newer version adds are added to
the table when the registry starts (`data_tables.sync`); old columns stay for old records.

Indexes follow the specification too: the identity, and what each comparison looks up. Serial
numbers are the exception: a device's serials sit in several columns (the generator and four
leads), and a comparison or a recall looks a serial up in all of them. One index per column made
every stored record cost five insertions at random places in five B-trees, most of an import's
time. They live instead in one table of their own (`<table>__serials`: value, `_id`), whose one
index an import fills in value order, sorted by Polars first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

import polars as pl

from zorgbroker.intake.api import DatasetSpec, FieldSpec, TableSpec, derived_types, load_dataset
from zorgbroker.registry.columns import ID, PARENT_ID, UPLOAD_ID
from zorgbroker.registry.comparisons import Comparison, Index, kind_of, kinds
from zorgbroker.registry.comparisons import LayoutError as LayoutError

_TYPES: dict[str, pl.DataType] = {
    "text": pl.String(),
    "code": pl.String(),
    "integer": pl.Int64(),
    "number": pl.Float64(),
    "date": pl.Date(),
}
_SQL_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class Materialised:
    """A value from another table kept in this table's rows: `head.field`."""

    column: str
    head: str
    field: str
    #: This table's field that references `head` (None when `head` is a one-row table).
    via: str | None
    via_key: str | None


@dataclass(frozen=True)
class PartLink:
    """This table's rows are parts of a record of `parent` (an episode's treatments)."""

    parent: str
    fk: str
    parent_key: str


@dataclass(frozen=True)
class ValueTable:
    """The values of `columns`, one row per (value, `_id`), in a table of their own with one index:
    the lookup of a value in any of those columns (serial numbers of a generator and its leads)."""

    sql_name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableLayout:
    dataset: str
    table: str
    sql_name: str
    main: bool
    #: Stored values in order (system columns excluded), with their Polars types.
    columns: dict[str, pl.DataType]
    identity: tuple[str, ...]
    #: Columns that are never empty in accepted records (required fields, one-row values).
    required: frozenset[str]
    materialised: tuple[Materialised, ...] = ()
    part_of: PartLink | None = None
    indexes: tuple[Index, ...] = ()
    values: ValueTable | None = None

    @property
    def content(self) -> list[str]:
        return list(self.columns)

    @property
    def sql_names(self) -> tuple[str, ...]:
        """Its database tables: its own, and its serial table's if it has one."""
        return (self.sql_name, *((self.values.sql_name,) if self.values else ()))

    @property
    def system(self) -> list[str]:
        return [ID, UPLOAD_ID] + ([PARENT_ID] if self.part_of else [])

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """Stored columns with types, system columns first."""
        system: dict[str, pl.DataType] = {c: pl.Int64() for c in self.system}
        return {**system, **self.columns}

    @property
    def lookup_identity(self) -> tuple[str, ...]:
        """The identity columns that are never empty: what an SQL equality join can use."""
        return tuple(c for c in self.identity if c in self.required)


@dataclass(frozen=True)
class UpdateRule:
    #: replace_record: a record with a known identity replaces the stored version (with its
    #: parts); replace_group: all records sharing `group` values replace the held group whole.
    changed: Literal["replace_record", "replace_group"]
    group: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetLayout:
    spec: DatasetSpec
    tables: dict[str, TableLayout]
    comparisons: tuple[Comparison, ...]
    update: UpdateRule

    @property
    def main(self) -> TableLayout:
        return self.tables[self.spec.main_table.name]

    def parts_of(self, table: str) -> list[TableLayout]:
        return [t for t in self.tables.values() if t.part_of and t.part_of.parent == table]


def sql_table_name(dataset: str, table: str) -> str:
    name = f"data_{dataset}__{table}".lower().replace("-", "_")
    if not _SQL_NAME.fullmatch(name):
        raise LayoutError(f"dataset {dataset!r} / table {table!r} gives no usable table name")
    return name


def stored_dtype(f: FieldSpec) -> pl.DataType | None:
    """The type the registry keeps a field in; None for a field it does not keep."""
    match f.identifying:
        case "drop":
            return None
        case "pseudonymise" | "postcode4":
            return pl.String()
        case "year":
            return pl.Int32()
    return _TYPES[f.type]


def _dotted_names(params: dict[str, str | list[str] | int]) -> list[str]:
    names: list[str] = []
    for value in params.values():
        for item in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if re.fullmatch(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*", item):
                names.append(item)
    return names


def column_name(name: str, table: TableSpec) -> str:
    """The column holding a field, or a dotted `head.field` copied into this table."""
    if "." not in name:
        return name
    head, fld = name.split(".", 1)
    own = {f.name for f in table.fields} | set(table.derive)
    return f"{head}_{fld}" if fld in own else fld


def _materialise(spec: DatasetSpec, table: TableSpec, dotted: str) -> Materialised:
    head, fld = dotted.split(".", 1)
    names = {t.name for t in spec.tables}
    if head in names:
        target = spec.table(head)
        if target.rows == "one":
            return Materialised(column_name(dotted, table), head, fld, None, None)
        for f in table.fields:
            if f.references and f.references.table == head:
                return Materialised(
                    column_name(dotted, table), head, fld, f.name, f.references.field
                )
    raise LayoutError(f"{table.name}: cannot resolve {dotted!r}")


def _table_layout(
    spec: DatasetSpec,
    table: TableSpec,
    derived: dict[str, pl.DataType],
    comparisons: tuple[Comparison, ...],
) -> TableLayout:
    columns: dict[str, pl.DataType] = {}
    required: set[str] = set()
    for f in table.fields:
        dtype = stored_dtype(f)
        if dtype is not None:
            columns[f.name] = dtype
            if f.required is True:
                required.add(f.name)
    columns.update(derived)
    dotted = [n for n in table.identity if "." in n]
    if table.main:
        dotted += [n for c in spec.comparisons for n in _dotted_names(c.params)]
    materialised: list[Materialised] = []
    for name in dict.fromkeys(dotted):
        m = _materialise(spec, table, name)
        materialised.append(m)
        target = spec.table(m.head).field(m.field)
        dtype = stored_dtype(target)
        if dtype is None:
            raise LayoutError(f"{table.name}: {name!r} is not kept by the registry")
        columns[m.column] = dtype
        if target.required is True:
            required.add(m.column)
    part = next(
        (
            PartLink(f.references.table, f.name, f.references.field)
            for f in table.fields
            if f.references and f.references.part_of
        ),
        None,
    )
    identity = tuple(column_name(n, table) for n in table.identity)
    if not identity and part is None:
        raise LayoutError(
            f"{spec.dataset}: table {table.name} needs an identity (or to be part of a record) "
            "for the registry to recognise a resent record"
        )
    for name in [*identity, *columns]:
        if name not in columns or name.startswith("_"):
            raise LayoutError(f"{table.name}: unusable column {name!r}")
    sql_name = sql_table_name(spec.dataset, table.name)
    layout = TableLayout(
        dataset=spec.dataset,
        table=table.name,
        sql_name=sql_name,
        main=table.main,
        columns=columns,
        identity=identity,
        required=frozenset(required),
        materialised=tuple(materialised),
        part_of=part,
        values=_value_table(sql_name, columns, comparisons) if table.main else None,
    )
    return _with_indexes(layout, comparisons if table.main else (), table)


def _value_table(
    sql_name: str, columns: dict[str, pl.DataType], comparisons: tuple[Comparison, ...]
) -> ValueTable | None:
    serials = tuple(dict.fromkeys(s for c in comparisons for s in kind_of(c).serial_columns(c)))
    if not serials:
        return None
    for name in serials:
        if name not in columns or columns[name] != pl.String:
            raise LayoutError(f"{sql_name}: serial column {name!r} must be a stored text field")
    name = f"{sql_name}__serials"
    if not _SQL_NAME.fullmatch(name):
        raise LayoutError(f"{sql_name}: no usable name for its serial table")
    return ValueTable(name, serials)


def _with_indexes(
    layout: TableLayout, comparisons: tuple[Comparison, ...], table: TableSpec
) -> TableLayout:
    wanted: list[Index] = []
    for c in comparisons:
        wanted.extend(kind_of(c).indexes(c))
    lookup = layout.lookup_identity
    # A comparison that looks up all records by some of the identity's columns (a patient's
    # held procedures) already finds every identity match: the importer filters those rows
    # instead of asking again, so that comparison's index serves the identity too. Each index
    # costs every import its share of time, so the identity gets its own only when needed.
    inside = [i.columns for i in wanted if not i.partial and set(i.columns) <= set(lookup)]
    if layout.identity and not inside:
        wanted.insert(0, Index((*lookup, *(c for c in layout.identity if c not in lookup))))
    if layout.part_of:
        wanted.append(Index((PARENT_ID,)))
    kept: list[Index] = []
    for index in wanted:
        covered = any(
            other.columns[: len(index.columns)] == index.columns and not other.partial
            for other in wanted
            if other is not index and len(other.columns) > len(index.columns)
        )
        if not covered and index not in kept:
            kept.append(index)
    return TableLayout(**{**layout.__dict__, "indexes": tuple(kept)})


def _columns_of(value: str | list[str] | int, table: TableSpec) -> str | list[str] | int:
    if isinstance(value, str):
        return column_name(value, table)
    if isinstance(value, list):
        return [column_name(v, table) for v in value]
    return value


def _update_rule(spec: DatasetSpec) -> UpdateRule:
    identical = spec.update.get("identical", "unchanged")
    if identical != "unchanged":
        raise LayoutError(f"{spec.dataset}: update.identical must be 'unchanged'")
    changed = spec.update.get("changed", "replace_record")
    if changed in ("replace_record", "replace_record_with_parts"):
        return UpdateRule("replace_record")
    if changed == "replace_group":
        group = spec.update.get("group")
        if not isinstance(group, list) or not group:
            raise LayoutError(f"{spec.dataset}: update.group must list the fields of a group")
        return UpdateRule("replace_group", tuple(group))
    raise LayoutError(f"{spec.dataset}: unknown update rule {changed!r}")


def build_layout(spec: DatasetSpec) -> DatasetLayout:
    comparisons: list[Comparison] = []
    for c in spec.comparisons:
        kind = kinds().get(c.kind)
        if kind is None:
            raise LayoutError(f"{spec.dataset}: unknown comparison kind {c.kind!r} ({c.code})")
        missing = [n for n in kind.required if n not in c.params]
        if missing:
            raise LayoutError(f"{spec.dataset}: {c.code} lacks parameters {missing}")
        main = spec.main_table
        params = {
            name: _columns_of(value, main) if name in kind.column_params else value
            for name, value in c.params.items()
        }
        field_name = column_name(c.field, main) if c.field else None
        comparisons.append(Comparison(c.code, c.kind, field_name, params))
    derived = derived_types(spec)
    frozen = tuple(comparisons)
    tables = {t.name: _table_layout(spec, t, derived[t.name], frozen) for t in spec.tables}
    update = _update_rule(spec)
    main_layout = tables[spec.main_table.name]
    for name in update.group:
        if name not in main_layout.columns:
            raise LayoutError(f"{spec.dataset}: update.group names unknown field {name!r}")
    return DatasetLayout(spec, tables, frozen, update)


@cache
def layout_for(dataset: str) -> DatasetLayout:
    return build_layout(load_dataset(dataset))
