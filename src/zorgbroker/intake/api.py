"""Intake's public surface: the only module other packages import from `zorgbroker.intake`.

What it offers:

- the dataset specification: `DatasetSpec`, `TableSpec`, `FieldSpec`, `RuleSpec`,
  `load_dataset`, `available`, `SpecError`;
- the rule language over named columns: `compile_condition`, `compile_expression`,
  `derived_types`, and `RuleError` for a text it cannot compile;
- `ROW`, the column that carries a record's number through every frame;
- the check: `check_upload`, `CheckOptions`, `CheckOutcome`, the `Pseudonymise` hook, and
  `open_upload` / `ReadError` for those who read an upload as the check does;
- the quality report: `Report`, `Stored`, `FileInfo`, `Mode`, `MESSAGE_SCHEMA`, its JSON round
  trip (`write_json`, `report_from_json`, `StoredReportError`), `write_xlsx`, and the summary
  helpers (`format_count`, `approximate_size`, `MODE_LABELS`, `code_rows`, `CodeRow`);
- `generate`, the synthetic test files of a dataset;
- the source's side of a stage-1 file (docs/pseudonymisation.md, section 8): `source_checks`
  (which checks read an identifying field), `source_findings` (their outcome per record, and the
  file-level messages about the export), `spec_column_names` and `date_format_of` (a table's
  columns and date format as the check reads them); and the registry's side: `check_stage1`
  with its `Stage1Input` and `Relay` hook, `FINDINGS_COLUMN` and `SEALED_SUFFIX`, and `refusal`
  (the outcome of a file refused before any check).

Importing this module is cheap: the names are loaded from intake's modules on first use, so a
command that only shows its help never pays for Polars or the check engine.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from zorgbroker.intake.checks.carried import FINDINGS_COLUMN, SEALED_SUFFIX, Stage1Input
    from zorgbroker.intake.checks.context import CheckOptions, CheckOutcome, Pseudonymise, Relay
    from zorgbroker.intake.checks.rule_language import RuleSyntaxError as RuleError
    from zorgbroker.intake.checks.run import check_stage1, check_upload, refusal
    from zorgbroker.intake.generate import generate
    from zorgbroker.intake.readers import ReadError, open_upload
    from zorgbroker.intake.report.json_report import StoredReportError, write_json
    from zorgbroker.intake.report.json_report import from_json_dict as report_from_json
    from zorgbroker.intake.report.model import (
        MESSAGE_SCHEMA,
        FileInfo,
        Mode,
        Report,
        Stored,
    )
    from zorgbroker.intake.report.summary import (
        MODE_LABELS,
        CodeRow,
        approximate_size,
        code_rows,
        format_count,
    )
    from zorgbroker.intake.report.text_report import render_text
    from zorgbroker.intake.report.xlsx_report import write_xlsx
    from zorgbroker.intake.source_checks import (
        SourceFindings,
        date_format_of,
        source_checks,
        source_findings,
        spec_column_names,
    )
    from zorgbroker.intake.source_plan import source_check_plan
    from zorgbroker.intake.spec import (
        DatasetSpec,
        FieldSpec,
        RuleSpec,
        SpecError,
        TableSpec,
        available,
        load_dataset,
    )

#: The column holding a record's number (its row in the file, counted from 1) in every frame the
#: check produces and the registry compares: messages point at records through it.
ROW = "__row"

#: Public name -> (module, attribute) it is loaded from on first use.
_LAZY: dict[str, tuple[str, str]] = {
    "DatasetSpec": ("zorgbroker.intake.spec", "DatasetSpec"),
    "TableSpec": ("zorgbroker.intake.spec", "TableSpec"),
    "FieldSpec": ("zorgbroker.intake.spec", "FieldSpec"),
    "RuleSpec": ("zorgbroker.intake.spec", "RuleSpec"),
    "SpecError": ("zorgbroker.intake.spec", "SpecError"),
    "available": ("zorgbroker.intake.spec", "available"),
    "load_dataset": ("zorgbroker.intake.spec", "load_dataset"),
    "RuleError": ("zorgbroker.intake.checks.rule_language", "RuleSyntaxError"),
    "check_upload": ("zorgbroker.intake.checks.run", "check_upload"),
    "CheckOptions": ("zorgbroker.intake.checks.context", "CheckOptions"),
    "CheckOutcome": ("zorgbroker.intake.checks.context", "CheckOutcome"),
    "Pseudonymise": ("zorgbroker.intake.checks.context", "Pseudonymise"),
    "open_upload": ("zorgbroker.intake.readers", "open_upload"),
    "ReadError": ("zorgbroker.intake.readers", "ReadError"),
    "Report": ("zorgbroker.intake.report.model", "Report"),
    "Stored": ("zorgbroker.intake.report.plain", "Stored"),
    "FileInfo": ("zorgbroker.intake.report.model", "FileInfo"),
    "Mode": ("zorgbroker.intake.report.model", "Mode"),
    "MESSAGE_SCHEMA": ("zorgbroker.intake.report.model", "MESSAGE_SCHEMA"),
    "write_json": ("zorgbroker.intake.report.json_report", "write_json"),
    "report_from_json": ("zorgbroker.intake.report.json_report", "from_json_dict"),
    "StoredReportError": ("zorgbroker.intake.report.json_report", "StoredReportError"),
    "write_xlsx": ("zorgbroker.intake.report.xlsx_report", "write_xlsx"),
    "render_text": ("zorgbroker.intake.report.text_report", "render_text"),
    "MODE_LABELS": ("zorgbroker.intake.report.plain", "MODE_LABELS"),
    "CodeRow": ("zorgbroker.intake.report.summary", "CodeRow"),
    "code_rows": ("zorgbroker.intake.report.summary", "code_rows"),
    "format_count": ("zorgbroker.intake.report.plain", "format_count"),
    "approximate_size": ("zorgbroker.intake.report.summary", "approximate_size"),
    "generate": ("zorgbroker.intake.generate", "generate"),
    "SourceFindings": ("zorgbroker.intake.source_checks", "SourceFindings"),
    "check_stage1": ("zorgbroker.intake.checks.run", "check_stage1"),
    "refusal": ("zorgbroker.intake.checks.run", "refusal"),
    "Stage1Input": ("zorgbroker.intake.checks.carried", "Stage1Input"),
    "Relay": ("zorgbroker.intake.checks.context", "Relay"),
    "FINDINGS_COLUMN": ("zorgbroker.intake.checks.carried", "FINDINGS_COLUMN"),
    "SEALED_SUFFIX": ("zorgbroker.intake.checks.carried", "SEALED_SUFFIX"),
    "source_checks": ("zorgbroker.intake.source_checks", "source_checks"),
    "source_findings": ("zorgbroker.intake.source_checks", "source_findings"),
    "source_check_plan": ("zorgbroker.intake.source_plan", "source_check_plan"),
    "spec_column_names": ("zorgbroker.intake.source_checks", "spec_column_names"),
    "date_format_of": ("zorgbroker.intake.source_checks", "date_format_of"),
}

__all__ = [
    "FINDINGS_COLUMN",
    "MESSAGE_SCHEMA",
    "MODE_LABELS",
    "ROW",
    "SEALED_SUFFIX",
    "CheckOptions",
    "CheckOutcome",
    "CodeRow",
    "DatasetSpec",
    "FieldSpec",
    "FileInfo",
    "Mode",
    "Pseudonymise",
    "ReadError",
    "Relay",
    "Report",
    "RuleError",
    "RuleSpec",
    "SourceFindings",
    "SpecError",
    "Stage1Input",
    "Stored",
    "StoredReportError",
    "TableSpec",
    "approximate_size",
    "available",
    "check_stage1",
    "check_upload",
    "code_rows",
    "compile_condition",
    "compile_expression",
    "date_format_of",
    "derived_types",
    "format_count",
    "generate",
    "load_dataset",
    "open_upload",
    "refusal",
    "render_text",
    "report_from_json",
    "source_check_plan",
    "source_checks",
    "source_findings",
    "spec_column_names",
    "write_json",
    "write_xlsx",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


# --- the rule language over named columns --------------------------------------------------------


def compile_condition(
    text: str, columns: Iterable[str], *, today: dt.date, organisation: str | None
) -> pl.Expr:
    """A condition of the rule language (`procedure_type = '5'`) as a Polars Boolean over
    `columns`, False wherever the condition is unknown (a null operand).

    `today` and `organisation` are what `today()` and `organisation()` mean in the text. Only
    the columns' own names may be used: a reference to another table (`praktijk.agb`) or
    `exists(...)` raises RuleError, as does a text that does not parse or names an unknown
    column or function.
    """
    from zorgbroker.intake.checks import rule_language as rl

    return rl.compile_condition(rl.parse(text), _columns_only(columns, today, organisation))


def compile_expression(
    text: str, columns: Iterable[str], *, today: dt.date, organisation: str | None
) -> pl.Expr:
    """An expression of the rule language (`year(datum)`) as a Polars expression over
    `columns`; null where an operand is null. Raises RuleError as `compile_condition` does."""
    from zorgbroker.intake.checks import rule_language as rl

    return rl.compile_expr(rl.parse(text), _columns_only(columns, today, organisation))


def derived_types(spec: DatasetSpec) -> dict[str, dict[str, pl.DataType]]:
    """Per table of `spec`, the Polars type of each derived value (its `derive:` section), in the
    specification's order; a table without derived values maps to an empty dict."""
    import polars as pl

    from zorgbroker.intake.checks import plan as p
    from zorgbroker.intake.checks import rule_language as rl
    from zorgbroker.intake.spec.loader import check_plans

    plans = check_plans(spec)
    types: dict[str, dict[str, pl.DataType]] = {}
    for name, plan in plans.items():
        if not plan.derive:
            types[name] = {}
            continue
        ctx = p.context_for(plan, today=dt.date(2000, 1, 1), organisation=None)
        empty = pl.DataFrame(schema={f.name: p.field_dtype(f) for f in plan.fields})
        exprs = [rl.compile_expr(node, ctx).alias(n) for n, node in plan.derive.items()]
        types[name] = dict(empty.select(exprs).schema)
    return types


def _columns_only(
    columns: Iterable[str], today: dt.date, organisation: str | None
) -> Any:  # rule_language.Context, kept out of the public signature
    from zorgbroker.intake.checks import rule_language as rl

    def no_reference(head: str, field: str) -> str:
        raise rl.RuleSyntaxError(f"{head}.{field}: a field of another table cannot be used here")

    def no_exists(child: str, condition: rl.Node) -> str:
        raise rl.RuleSyntaxError(f"exists({child}, ...) cannot be used here")

    return rl.Context(frozenset(columns), today, organisation, no_reference, no_exists)
