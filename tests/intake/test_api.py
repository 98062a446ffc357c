"""Intake's public API: what other packages may use, cheap to import, and the rule language over
named columns."""

from __future__ import annotations

import ast
import datetime as dt
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from zorgbroker.intake import api

TODAY = dt.date(2026, 11, 22)


def test_every_public_name_resolves() -> None:
    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert sorted(dir(api)) == sorted(api.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        api.no_such_name  # noqa: B018


def test_importing_the_api_loads_neither_polars_nor_the_engine() -> None:
    code = (
        "import sys, zorgbroker.intake.api\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('polars', 'lark', 'yaml')"
        " or m.startswith('zorgbroker.intake.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['zorgbroker.intake.api']"


def test_the_check_numbers_records_in_the_row_column(tmp_path: Path) -> None:
    spec = api.load_dataset("nhr-pmicd")
    generated = api.generate("nhr-pmicd", rows=5, out=tmp_path / "nhr.csv")
    options = api.CheckOptions(today=TODAY, collect_accepted=True)
    outcome = api.check_upload(generated.path, spec, options)
    (accepted,) = outcome.accepted.values()
    assert api.ROW in accepted.columns
    assert accepted[api.ROW].min() == 1


def test_a_condition_over_named_columns() -> None:
    frame = pl.DataFrame({"type": ["5", "4", None], "datum": [TODAY, TODAY, None]})
    ending = api.compile_condition(
        "type = '5' and datum <= today()", frame.columns, today=TODAY, organisation=None
    )
    # An unknown operand (null) makes the condition false, never null.
    assert frame.select(ending).to_series().to_list() == [True, False, False]


def test_a_condition_may_use_the_organisation() -> None:
    frame = pl.DataFrame({"agb": ["01234567", "76543210"]})
    own = api.compile_condition(
        "agb = organisation()", ["agb"], today=TODAY, organisation="01234567"
    )
    assert frame.select(own).to_series().to_list() == [True, False]


def test_an_expression_over_named_columns() -> None:
    frame = pl.DataFrame({"datum": [dt.date(2024, 3, 1), None]})
    year = api.compile_expression("year(datum)", ["datum"], today=TODAY, organisation=None)
    assert frame.select(year).to_series().to_list() == [2024, None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("praktijk.agb = '1'", "praktijk.agb: a field of another table cannot be used here"),
        ("exists(leads)", r"exists\(leads, \.\.\.\) cannot be used here"),
        ("onbekend = '1'", "unknown field 'onbekend'"),
        ("type = ", "cannot parse rule"),
        ("nonsense(type)", "nonsense"),
    ],
)
def test_what_a_condition_may_not_say_is_a_rule_error(text: str, message: str) -> None:
    with pytest.raises(api.RuleError, match=message):
        api.compile_condition(text, ["type"], today=TODAY, organisation=None)


def test_derived_types_per_table() -> None:
    types = api.derived_types(api.load_dataset("nhr-pmicd"))
    (main,) = [t.name for t in api.load_dataset("nhr-pmicd").tables]
    assert types == {main: {"leeftijd": pl.Int32(), "identiteit_serienummer": pl.String()}}
    assert all(not t for t in api.derived_types(api.load_dataset("nivel-fysio")).values())


#: Intake modules other packages may import besides the api: intake's command-line glue, whose
#: offline check the platform's `demo --alleen-controle` offers.
STILL_SHARED = {"zorgbroker.intake.cli"}


def intake_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            if node.module == "zorgbroker.intake":
                found += names[1:]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return [n for n in found if n.startswith("zorgbroker.intake")]


def test_other_packages_use_only_the_api() -> None:
    root = Path(__file__).resolve().parents[2]
    sources = [*(root / "src" / "zorgbroker").rglob("*.py"), *(root / "bench").rglob("*.py")]
    intake = root / "src" / "zorgbroker" / "intake"
    wrong = {
        f"{path.relative_to(root)}: {name}"
        for path in sources
        if not path.is_relative_to(intake)
        for name in intake_imports(path)
        if name != "zorgbroker.intake.api" and name not in STILL_SHARED
    }
    assert not wrong, sorted(wrong)


def test_the_import_rule_finds_a_private_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from zorgbroker.intake.checks import plan\nimport zorgbroker.intake.report.model\n"
        "from zorgbroker.intake.api import ROW\n"
    )
    assert intake_imports(module) == [
        "zorgbroker.intake.checks",
        "zorgbroker.intake.report.model",
        "zorgbroker.intake.api",
    ]
