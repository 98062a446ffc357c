"""A check of a stage-1 file: the registry's check of what a source sent, where the checks that
read an identifying field ran at the source and their findings are carried per row (see
`zorgbroker.intake.source_checks` and docs/pseudonymisation.md, section 8).

The registry's check is the ordinary check with the table plans told what was carried: the
message column of a source field and the outcome of a source rule are read from the row's
findings, the derived values computed from identifying fields are read from the file, and the
date format is the one the source decided. Everything downstream (rejected records, parts and
references, the report's order, the accepted rows) is unchanged, so the report is the one a
check of the raw export gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.readers.direct import DirectScan
from zorgbroker.intake.report.model import FileInfo
from zorgbroker.intake.spec.model import DatasetSpec, FieldSpec

#: Column of each stage-1 table with the source's findings per row (`field=code`, spaces apart).
FINDINGS_COLUMN = "zb_bronbevindingen"
#: Suffix of the column beside a pseudonymised field with its value sealed for the TTP.
SEALED_SUFFIX = "_verzegeld"


@dataclass(frozen=True)
class Carried:
    """What a table plan needs to know about a stage-1 table."""

    #: Fields whose message comes from the findings; rule indexes whose outcome does.
    fields: frozenset[str]
    rules: frozenset[int]
    #: Derived columns the source computed (they read an identifying field).
    derived: frozenset[str]
    #: Pseudonymised field -> the column with its sealed value, where the file has one.
    sealed: dict[str, str]
    date_format: str
    #: The type of each carried derived value, as the check would have computed it.
    derived_types: dict[str, pl.DataType] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        """The columns of the stage-1 table besides the specification's fields."""
        return [FINDINGS_COLUMN, *sorted(self.derived), *self.sealed.values()]


@dataclass(frozen=True)
class Stage1Input:
    """What the registry's check takes from a stage-1 file's manifest (all of it checked by the
    caller before the check starts)."""

    file: FileInfo
    #: (code, table, field, value, text) of the file-level messages of the source's check; text
    #: is the reader's explanation where it replaces the code's own.
    file_messages: list[tuple[str, str | None, str | None, str | None, str | None]]
    date_formats: dict[str, str]
    #: Records of the main table as the source counted them (what a refused export reports).
    records: int
    refused: bool
    #: Per table, its CSV (`;`, UTF-8) as unpacked from the stage-1 file.
    members: dict[str, Path] = field(default_factory=dict)


def carried_columns(plan: p.TablePlan) -> list[str]:
    """The columns a stage-1 table carries besides its fields (none for an ordinary check)."""
    return plan.carried.columns if plan.carried is not None else []


def carried_plans(
    spec: DatasetSpec, plans: dict[str, p.TablePlan], stage1: Stage1Input
) -> dict[str, p.TablePlan]:
    """The table plans of a stage-1 check: each told what its table carries."""
    from zorgbroker.intake.api import derived_types
    from zorgbroker.intake.source_checks import source_checks

    checks = source_checks(spec)
    types = derived_types(spec)
    out: dict[str, p.TablePlan] = {}
    for name, plan in plans.items():
        header = _header(stage1.members[name]) if name in stage1.members else []
        sealed = {
            f.name: f.name + SEALED_SUFFIX
            for f in plan.fields
            if f.identifying == "pseudonymise" and f.name + SEALED_SUFFIX in header
        }
        out[name] = replace(
            plan,
            carried=Carried(
                fields=checks[name].fields,
                rules=checks[name].rules,
                derived=checks[name].derived,
                sealed=sealed,
                date_format=stage1.date_formats.get(name, p.ISO),
                derived_types={d: types[name][d] for d in checks[name].derived},
            ),
        )
    return out


def _header(path: Path) -> list[str]:
    return pl.scan_csv(path, separator=";", infer_schema=False).collect_schema().names()


class Stage1Table:
    """A table of a stage-1 file as the check reads a table: all text, empty cells null."""

    def __init__(self, name: str, path: Path, batch_rows: int) -> None:
        self.name = name
        # Never scanned directly: the batched and whole-table strategies read it.
        self.direct: DirectScan | None = None
        self.path = path
        self.header = _header(path)
        self.bytes_total = path.stat().st_size
        self.bytes_read = 0
        self._batch_rows = batch_rows

    def batches(self) -> Iterator[pl.DataFrame]:
        scan = pl.scan_csv(self.path, separator=";", infer_schema=False)
        yield from scan.collect_batches(chunk_size=self._batch_rows)
        self.bytes_read = self.bytes_total


def _padded(findings: pl.Expr) -> pl.Expr:
    return pl.lit(" ") + findings.fill_null("") + pl.lit(" ")


def findings_field_message(f: FieldSpec) -> pl.Expr:
    """A source field's message column (the index of its code, see `plan.field_codes`) read
    from the carried findings: the code the source found, else null."""
    from zorgbroker.intake.source_checks import finding

    findings = _padded(pl.col(FINDINGS_COLUMN))
    indexes = [
        pl.when(findings.str.contains(f" {finding(f.name, code)} ", literal=True)).then(
            pl.lit(k, dtype=pl.UInt8)
        )
        for k, code in enumerate(p.field_codes(f), start=1)
    ]
    return pl.coalesce(indexes).alias(p.msg_col(f.name))


def findings_rule_outcome(rule: p.CompiledRule) -> pl.Expr:
    """A source rule's outcome read from the carried findings (the source applied the rule's
    blocking by other messages already)."""
    from zorgbroker.intake.source_checks import finding

    token = f" {finding(rule.field, rule.code)} "
    return (
        _padded(pl.col(FINDINGS_COLUMN))
        .str.contains(token, literal=True)
        .alias(p.rule_col(rule.index))
    )
