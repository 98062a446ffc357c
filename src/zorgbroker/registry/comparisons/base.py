"""What every comparison kind is and gets: the resolved comparison, the held rows, the scope of
records it looks at, and the shape of its messages.

A kind (one module in this package) says which parameters a comparison of it needs, which
columns go into the serial table, which indexes it needs, which held rows it looks up, and how
it checks an upload's records against them. `compare` runs the kinds; `layout` asks them for
parameters, serial columns and indexes. Subclasses register themselves by their `name`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import polars as pl

from zorgbroker.intake.api import ROW

if TYPE_CHECKING:
    from zorgbroker.registry.layout import TableLayout

#: The messages a comparison makes, before the report adds class and text.
MESSAGE_COLUMNS = {
    "table": pl.String(),
    "record": pl.Int64(),
    "field": pl.String(),
    "code": pl.String(),
    "value": pl.String(),
}
#: Columns of the classified upload rows (`compare.classify`) that kinds read.
STATUS = "__status"
WRITE = "__write"
NEW, UPDATED, UNCHANGED = "new", "updated", "unchanged"


class LayoutError(ValueError):
    """A specification the registry cannot store (a message for its author); `layout` raises it
    too."""


@dataclass(frozen=True)
class Comparison:
    """A comparison of a dataset, its parameters naming stored columns."""

    code: str
    kind: str
    field: str | None
    params: dict[str, str | list[str] | int]

    def text(self, name: str) -> str:
        value = self.params.get(name)
        if not isinstance(value, str):
            raise LayoutError(f"{self.code}: parameter {name!r} must be text")
        return value

    def texts(self, name: str) -> list[str]:
        value = self.params.get(name)
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise LayoutError(f"{self.code}: parameter {name!r} must be a list")
        return value

    @property
    def rejecting(self) -> bool:
        """A TF comparison rejects the records it flags; a TW one only warns."""
        return self.code.startswith("TF-")


@dataclass(frozen=True)
class Index:
    columns: tuple[str, ...]
    #: Only rows where the first column is filled (serial numbers of leads that are mostly empty).
    partial: bool = False


@dataclass(frozen=True)
class Lookup:
    """Held main-table rows whose `columns` equal one of the `keys` rows."""

    columns: tuple[str, ...]
    keys: pl.DataFrame


@dataclass(frozen=True)
class Wanted:
    """Held rows a comparison needs: `keys` for `columns`, and whether the keys are already
    distinct and without nulls (then they are not made so again)."""

    columns: tuple[str, ...]
    keys: pl.DataFrame
    distinct: bool = False


@dataclass
class Held:
    """Held rows the importer fetched for one upload (full stored rows, `_id` included)."""

    #: Per table: the held rows sharing an identity (or, under replace_group, a group) with the
    #: upload's records.
    identity: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: Per part table: the held parts of the held records in `identity`.
    parts: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: Held main-table rows per lookup (columns), for the comparisons.
    lookups: dict[tuple[str, ...], pl.DataFrame] = field(default_factory=dict)


#: Compiles a condition of the rule language over the main table's columns.
Conditions = Callable[[str], pl.Expr]


@dataclass(frozen=True)
class Scope:
    """What a comparison checks: the main table's records and what is held."""

    table: TableLayout
    #: Records that would change something: for a TF, those whose identity is not held yet;
    #: for a TW, those that are new or updated.
    candidates: pl.DataFrame
    #: Every record of the upload still in the running (for a TW: not rejected by a TF).
    accepted: pl.DataFrame
    #: The records classified against their held versions (`compare.classify`).
    classified: pl.DataFrame
    held: Held
    conditions: Conditions
    #: The table named in messages (None for a dataset of one table).
    table_key: str | None

    def held_rows(self, columns: tuple[str, ...]) -> pl.DataFrame:
        return self.held.lookups.get(columns, pl.DataFrame(schema=self.table.schema))


class ComparisonKind(ABC):
    """One kind of comparison with held data. A subclass sets `name` and `required` and
    registers itself; the defaults below are for a kind that needs nothing from the database."""

    name: ClassVar[str]
    #: Parameters a comparison of this kind must have.
    required: ClassVar[tuple[str, ...]]
    #: Parameters that name fields (possibly dotted, `head.field`): the layout turns them into
    #: column names. The others are rule expressions or values.
    column_params: ClassVar[frozenset[str]]
    #: Whether a TF comparison of this kind rejects records. The rejecting ones run first, on
    #: the records whose identity is not held yet; a TF of another kind is not run.
    can_reject: ClassVar[bool] = False

    registered: ClassVar[dict[str, ComparisonKind]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        ComparisonKind.registered[cls.name] = cls()

    def serial_columns(self, c: Comparison) -> tuple[str, ...]:
        """Columns whose values go into the table's serial table (`layout.ValueTable`)."""
        return ()

    def indexes(self, c: Comparison) -> list[Index]:
        """Indexes on the main table that this comparison's lookups use."""
        return []

    def lookups(self, c: Comparison, upload: pl.DataFrame) -> list[Wanted]:
        """Held main-table rows this comparison needs for the upload's main table."""
        return []

    @abstractmethod
    def check(self, c: Comparison, scope: Scope) -> pl.DataFrame:
        """The comparison's messages (`MESSAGE_COLUMNS`) for the records in scope."""


def messages(
    rows: pl.DataFrame,
    code: str,
    field_name: str | pl.Expr | None,
    value: pl.Expr | None,
    table: str | None,
) -> pl.DataFrame:
    field_expr = pl.lit(field_name) if isinstance(field_name, str | None) else field_name
    return rows.select(
        pl.lit(table, dtype=pl.String).alias("table"),
        pl.col(ROW).cast(pl.Int64).alias("record"),
        field_expr.cast(pl.String).alias("field"),
        pl.lit(code, dtype=pl.String).alias("code"),
        (value if value is not None else pl.lit(None)).cast(pl.String).alias("value"),
    )


def empty_messages() -> pl.DataFrame:
    return pl.DataFrame(schema=MESSAGE_COLUMNS)


def as_text(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return expr.dt.to_string("%Y-%m-%d") if dtype == pl.Date else expr.cast(pl.String)


def differs(identity: list[str], suffix: str) -> pl.Expr:
    """Any identity column differs from its `suffix` copy."""
    return pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}{suffix}")) for c in identity])


def unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))
