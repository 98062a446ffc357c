"""Which checks the source runs and which the registry runs, when the registry gets a stage-1 file.

A stage-1 file holds identifying fields only as pseudonyms or reductions (birth year, four-digit
postcode) or not at all, so a check that reads one of them in the clear can only run at the
source. Such a *source check* is

- a field's own checks (required, format, length, codes, range, unique) of an identifying field,
  or of a field whose `required:` condition reads one;
- a rule whose condition reads an identifying field, directly, through a derived field computed
  from one, or through a reference to another table's identifying field.

Everything else is a *registry check*: the registry runs it on the stage-1 file itself. The source
carries the outcome of its checks per row as findings `field=code` (never a value), and the
registry sets its message and rule columns from them, so the report is the same as a check of
the raw file would give: the same messages in the same order, the same rejected records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from zorgbroker.intake.checks import plan as p
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.report.model import Report
from zorgbroker.intake.spec.model import DatasetSpec, TableSpec

#: Stands for a rule without a field in a finding.
NO_FIELD = "-"


@dataclass(frozen=True)
class TableSourceChecks:
    table: str
    #: Fields whose own checks run at the source.
    fields: frozenset[str]
    #: Indexes (`CompiledRule.index`) of the rules that run at the source.
    rules: frozenset[int]
    #: Derived columns computed at the source (they read an identifying field).
    derived: frozenset[str]
    #: (field or NO_FIELD, code) of every record message a source check can give.
    pairs: frozenset[tuple[str, str]]


def _tainted(plan: p.TablePlan, spec: DatasetSpec) -> set[str]:
    """Identifying fields of the table, and derived fields computed from one."""
    tainted = {f.name for f in plan.fields if f.identifying}
    changed = True
    while changed:  # a derive may read another derive
        changed = False
        for name, node in plan.derive.items():
            if name not in tainted and rl.field_names(node) & tainted:
                tainted.add(name)
                changed = True
    return tainted


def _reads_identifying(node: rl.Node, tainted: set[str], spec: DatasetSpec, table: str) -> bool:
    if rl.field_names(node) & tainted:
        return True
    for sub in rl.walk(node):
        if isinstance(sub, rl.Dotted) and _dotted_identifying(spec, table, sub):
            return True
        if isinstance(sub, rl.Call) and sub.function == "exists" and len(sub.args) > 1:
            child = sub.args[0]
            assert isinstance(child, rl.FieldRef)
            identifying = {f.name for f in spec.table(child.name).fields if f.identifying}
            if rl.field_names(sub.args[1]) & identifying:
                return True
    return False


def _dotted_identifying(spec: DatasetSpec, table: str, node: rl.Dotted) -> bool:
    own = spec.table(table)
    if node.head in {f.name for f in own.fields}:
        ref = own.field(node.head).references
        target = spec.table(ref.table) if ref is not None else own
    else:
        target = spec.table(node.head)
    return bool(target.field(node.field).identifying)


def source_checks(spec: DatasetSpec) -> dict[str, TableSourceChecks]:
    """The source checks of every table. Refuses a specification in which a finding could not
    be told apart from a registry check's message (the same field and code from both)."""
    from zorgbroker.intake.spec.loader import check_plans

    out: dict[str, TableSourceChecks] = {}
    for name, plan in check_plans(spec).items():
        tainted = _tainted(plan, spec)
        fields = {
            f.name
            for f in plan.fields
            if f.identifying
            or (
                f.name in plan.required_when
                and _reads_identifying(plan.required_when[f.name], tainted, spec, name)
            )
        }
        rules = {
            r.index for r in plan.rules if _reads_identifying(r.condition, tainted, spec, name)
        }
        for r in plan.rules:
            if r.index in rules and r.scope == "file":
                raise ValueError(
                    f"{spec.dataset}: bestandsregel {r.code} leest een identificerend veld; "
                    "dat kan een stap-1-bestand niet meedragen."
                )
        derived = {d for d in plan.derive if d in tainted}
        pairs, registry_pairs = _pairs(plan, fields, rules)
        both = pairs & registry_pairs
        if both or len(pairs) != _pair_count(plan, fields, rules):
            raise ValueError(
                f"{spec.dataset}.{name}: een bronbevinding is niet te onderscheiden "
                f"van een registercontrole: {sorted(both)}"
            )
        out[name] = TableSourceChecks(
            name, frozenset(fields), frozenset(rules), frozenset(derived), frozenset(pairs)
        )
    return out


def _pairs(
    plan: p.TablePlan, fields: set[str], rules: set[int]
) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    source: set[tuple[str, str]] = set()
    registry: set[tuple[str, str]] = set()
    for f in plan.fields:
        target = source if f.name in fields else registry
        target.update((f.name, code) for code in p.field_codes(f))
    for r in plan.rules:
        target = source if r.index in rules else registry
        target.add((r.field or NO_FIELD, r.code))
    return source, registry


def _pair_count(plan: p.TablePlan, fields: set[str], rules: set[int]) -> int:
    count = sum(len(p.field_codes(f)) for f in plan.fields if f.name in fields)
    return count + sum(1 for r in plan.rules if r.index in rules)


def finding(field: str | None, code: str) -> str:
    return f"{field or NO_FIELD}={code}"


def findings_per_record(
    messages: pl.DataFrame, checks: TableSourceChecks, *, table_key: str | None
) -> pl.DataFrame:
    """Per record with a source finding: `record` and `findings`, the findings in report order
    separated by a space (`bsn=F-301 geboortedatum=W-301`). `messages` is a report's message
    frame; `table_key` its table column for this table (None for a single-table dataset)."""
    pairs = pl.DataFrame(
        {
            "field": [f for f, _ in checks.pairs],
            "code": [c for _, c in checks.pairs],
        },
        schema={"field": pl.String, "code": pl.String},
    )
    mine = messages.filter(
        pl.col("record").is_not_null()
        & (pl.col("table").is_null() if table_key is None else pl.col("table") == table_key)
    ).with_columns(pl.col("field").fill_null(NO_FIELD))
    carried = mine.join(pairs, on=["field", "code"], how="semi", maintain_order="left")
    return (
        carried.group_by("record", maintain_order=True)
        .agg((pl.col("field") + "=" + pl.col("code")).str.join(" ").alias("findings"))
        .sort("record")
    )


def registry_file_rules(spec: DatasetSpec) -> set[tuple[str | None, str | None, str]]:
    """(table key, field, code) of every file-level rule: the registry runs these itself, so
    their messages are not carried (the table key is None for a single-table dataset)."""
    from zorgbroker.intake.spec.loader import check_plans

    out: set[tuple[str | None, str | None, str]] = set()
    for name, plan in check_plans(spec).items():
        key = name if spec.multi_table else None
        out.update((key, r.field, r.code) for r in plan.rules if r.scope == "file")
    return out


def spec_column_names(header: list[str], table: TableSpec) -> dict[str, str]:
    """File column name -> field name, as the check matches them; columns the specification
    does not know are left out."""
    from zorgbroker.intake.checks.structure import match_header

    return match_header(header, table)


def date_format_of(frame: pl.DataFrame, date_fields: list[str]) -> str:
    """The date format the check decides for a table from (the first rows of) its text."""
    return p.detect_date_format(frame, date_fields)


@dataclass(frozen=True)
class CarriedFileMessage:
    code: str
    table: str | None
    field: str | None
    value: str | None
    #: The reader's explanation, where it replaces the code's standard text (BF-004 says which
    #: layout the dataset expects): about the file's structure, never its content.
    text: str | None = None


@dataclass(frozen=True)
class SourceFindings:
    """What the source's check of an export hands on to its stage-1 file."""

    #: The source's own report of the export (for the source's eyes: it may name rows whose
    #: identifying fields are wrong; it never leaves the source as such).
    report: Report
    #: Per table name: `record` and `findings` for every record with a source finding.
    per_table: dict[str, pl.DataFrame]
    #: The file-level messages that describe the export (all but those of file rules).
    file_messages: list[CarriedFileMessage]


def source_findings(
    path: Path,
    spec: DatasetSpec,
    *,
    today: dt.date,
    organisation: str | None = None,
    display_name: str | None = None,
) -> SourceFindings:
    """Check an export at the source (every check, as `zorgbroker check` does) and keep what a
    stage-1 file carries: the findings of the source checks per record, and the file-level
    messages about the export itself."""
    from zorgbroker.intake.checks.context import CheckOptions
    from zorgbroker.intake.checks.run import check_upload

    checks = source_checks(spec)
    options = CheckOptions(today=today, organisation=organisation, mode="test")
    report = check_upload(path, spec, options, display_name=display_name).report
    multi = spec.multi_table
    per_table = {
        t.name: findings_per_record(
            report.messages, checks[t.name], table_key=t.name if multi else None
        )
        for t in spec.tables
    }
    own = registry_file_rules(spec)
    standard = {code: text.nl for code, text in spec.messages.items()}
    file_messages = [
        CarriedFileMessage(
            m["code"],
            m["table"],
            m["field"],
            m["value"],
            None if m["message"] == standard.get(m["code"]) else m["message"],
        )
        for m in report.messages.filter(pl.col("record").is_null()).iter_rows(named=True)
        if (m["table"], m["field"], m["code"]) not in own
    ]
    return SourceFindings(report, per_table, file_messages)
