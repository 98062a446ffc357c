"""The dataset specification format: one declarative description per dataset version.

A specification is a YAML file (plus code lists as CSV beside it) that says which tables a dataset
has, the fields of each table with their type and format, which fields identify a person and what
happens to them, the cross-field rules, and every message code with its Dutch and English text.
One engine reads every specification; adding a registry means adding files, not code.
See docs/dataset-specification.md for the format written out for authors.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CODE_PATTERN = re.compile(r"^(BF|BW|F|W|TF|TW)-\d{3}$")

FieldType = Literal["text", "integer", "number", "date", "code"]
#: What happens to an identifying field before anything is stored or leaves the source.
Identifying = Literal["pseudonymise", "year", "postcode4", "drop"]
#: Normalisations applied to the raw text before any check.
Normalise = Literal["bsn", "upper", "digits"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MessageText(_Strict):
    nl: str
    en: str


class Reference(_Strict):
    """A foreign key: the field's value must be a key of another table in the same upload."""

    table: str
    field: str
    #: Raised on the referencing field when the referenced row is missing, or rejected itself.
    code: str = "F-101"
    #: The referencing rows are part of the referenced record (an episode's treatments): a rejected
    #: part rejects its whole record, and a rejected record takes its parts along silently.
    part_of: bool = False


class FieldSpec(_Strict):
    name: str
    type: FieldType = "text"
    description: str = ""
    #: True, False, or a rule expression: required when the expression holds.
    required: bool | str = False
    missing_code: str = "F-001"
    #: Whether the column itself must be in the header (defaults to: the field is required).
    column_required: bool | None = None
    normalise: Normalise | None = None
    #: Restore leading zeros a spreadsheet dropped: an all-digit value of `pad_min` up to
    #: `pad_digits` - 1 digits is left-padded with zeros to `pad_digits` (an AGB code 01234567
    #: saved as the number 1234567). `pad_min` defaults to one digit short; shorter values stay
    #: as they are and fail their format check.
    pad_digits: int | None = None
    pad_min: int | None = None
    pattern: str | None = None
    format_code: str = "F-002"
    min_length: int | None = None
    max_length: int | None = None
    length_code: str = "F-005"
    minimum: float | None = None
    maximum: float | None = None
    range_code: str = "F-004"
    #: A code list: the name of a CSV file in the specification's `codes/` folder, or inline codes.
    codes: str | list[str] | None = None
    codes_code: str = "F-003"
    unique: bool = False
    unique_code: str = "F-006"
    references: Reference | None = None
    identifying: Identifying | None = None

    @property
    def needs_column(self) -> bool:
        if self.column_required is not None:
            return self.column_required
        return self.required is True

    @model_validator(mode="after")
    def _code_fields_have_codes(self) -> FieldSpec:
        if self.type == "code" and self.codes is None:
            raise ValueError(f"field {self.name!r} has type code but no code list")
        return self


class RuleSpec(_Strict):
    """A check across fields, written in the rule language (docs/dataset-specification.md)."""

    code: str
    #: The condition under which the message is raised.
    when: str
    #: The field the message names (None for a file-level message).
    field: str | None = None
    #: `record`: one message per record where `when` holds; `file`: one message for the file when
    #: `when` holds for any record (for BF/BW codes).
    scope: Literal["record", "file"] = "record"
    #: Expand the rule once per value: {"i": [1, 2, 3, 4]} turns `lead{i}_positie` into four rules.
    each: dict[str, list[int | str]] | None = None
    description: str = ""


class Comparison(_Strict):
    """A rule against the data the registry already holds (TF/TW), evaluated at import."""

    code: str
    #: The comparison's kind, implemented once by the registry for every dataset.
    kind: str
    field: str | None = None
    params: dict[str, str | list[str] | int] = Field(default_factory=dict)
    description: str = ""


class TableSpec(_Strict):
    name: str
    #: File name inside a ZIP (or sheet name in an XLSX) for multi-table datasets.
    file: str | None = None
    #: The main table's rows are the dataset's records (the report's record count).
    main: bool = False
    #: `one`: the table must hold exactly one row (`rows_code` otherwise).
    rows: Literal["one", "many"] = "many"
    rows_code: str | None = None
    fields: list[FieldSpec]
    rules: list[RuleSpec] = Field(default_factory=list)
    #: Columns that must never be in the file (e.g. patient data in an aggregate dataset), as
    #: case-insensitive regular expressions matched against the whole column name.
    forbidden_columns: list[str] = Field(default_factory=list)
    forbidden_code: str | None = None
    #: Values computed from identifying fields before they are dropped (name -> expression).
    derive: dict[str, str] = Field(default_factory=dict)
    #: The fields that identify a record across uploads (used by the registry's update rules).
    identity: list[str] = Field(default_factory=list)

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @field_validator("fields")
    @classmethod
    def _unique_names(cls, fields: list[FieldSpec]) -> list[FieldSpec]:
        names = [f.name for f in fields]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate field names: {sorted(dupes)}")
        return fields


class DatasetSpec(_Strict):
    dataset: str
    version: str
    title: str
    #: The registry that receives this dataset; pseudonyms are keyed per registry.
    registry: str
    #: Whether the TTP keeps an encrypted BSN per pseudonym (the implant register's recall duty).
    reidentifiable: bool = False
    #: Code raised when a table of a multi-table dataset is missing from the upload.
    missing_table_code: str | None = None
    tables: list[TableSpec]
    comparisons: list[Comparison] = Field(default_factory=list)
    #: Update rules for the registry, by name (see docs): e.g. replace_record, replace_year.
    update: dict[str, str | list[str]] = Field(default_factory=dict)
    messages: dict[str, MessageText]
    #: Code lists, filled by the loader from the `codes/` folder: list name -> {code: description}.
    code_lists: Annotated[dict[str, dict[str, str]], Field(default_factory=dict)]

    @property
    def multi_table(self) -> bool:
        return len(self.tables) > 1

    @property
    def main_table(self) -> TableSpec:
        return next(t for t in self.tables if t.main)

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def text(self, code: str) -> str:
        return self.messages[code].nl

    @field_validator("messages")
    @classmethod
    def _codes_are_well_formed(cls, messages: dict[str, MessageText]) -> dict[str, MessageText]:
        bad = [c for c in messages if not CODE_PATTERN.match(c)]
        if bad:
            raise ValueError(f"malformed message codes: {bad}")
        return messages

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        mains = [t.name for t in self.tables if t.main]
        if len(mains) != 1:
            raise ValueError(f"exactly one table must be main, found {mains}")
        table_names = {t.name for t in self.tables}
        used: set[str] = set()
        for t in self.tables:
            for f in t.fields:
                used |= {f.missing_code, f.format_code, f.codes_code, f.range_code}
                used |= {f.length_code, f.unique_code}
                if f.references:
                    used.add(f.references.code)
                    if f.references.table not in table_names:
                        raise ValueError(f"{t.name}.{f.name} references unknown table")
            used |= {r.code for r in t.rules}
            if t.rows_code:
                used.add(t.rows_code)
            if t.forbidden_code:
                used.add(t.forbidden_code)
        used |= {c.code for c in self.comparisons}
        if self.missing_table_code:
            used.add(self.missing_table_code)
        missing = sorted(used - set(self.messages))
        if missing:
            raise ValueError(f"codes used without a message text: {missing}")
        return self
