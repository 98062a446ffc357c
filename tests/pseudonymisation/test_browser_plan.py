"""The browser's plan of a dataset (pseudonymisation/browser_plan.py, docs/pseudonymisation.md
8.7): what the JavaScript stage 1 reads instead of knowing the datasets."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from zorgbroker.intake import api as intake_api
from zorgbroker.intake.source_plan import node_json
from zorgbroker.pseudonymisation.browser_plan import browser_plan
from zorgbroker.pseudonymisation.source_file import write_stage1_file

DAY = dt.date(2026, 12, 7)
KEY = bytes(range(0x80, 0xA0))


@pytest.mark.parametrize(
    ("dataset", "suffix"),
    [("nhr-pmicd", ".csv"), ("nivel-fysio", ".zip"), ("parabench-mi", ".csv")],
)
def test_the_columns_are_those_python_writes_in_its_order(
    tmp_path: Path, dataset: str, suffix: str
) -> None:
    export = tmp_path / f"export{suffix}"
    made = intake_api.generate(dataset, rows=40, out=export, error_rate=0.1, today=DAY)
    ttp = X25519PrivateKey.generate().public_key().public_bytes_raw()
    spec = intake_api.load_dataset(dataset)
    output = tmp_path / "stap1.zip"
    write_stage1_file(
        export, dataset, spec.registry, output, key=KEY, ttp_public_key=ttp, today=DAY,
        organisation=made.organisation,
    )  # fmt: skip
    plan = browser_plan(spec, ttp_public_key=ttp)
    with zipfile.ZipFile(output) as archive:
        manifest = json.loads(archive.read(plan["manifest"]["name"]))
        for table in plan["tables"]:
            member = manifest["members"][table["name"]]
            assert member == table["member"]
            text = archive.read(member).decode("utf-8")
            header = next(csv.reader(io.StringIO(text), delimiter=";"))
            # The export holds every field here: Python writes exactly the plan's columns.
            assert header == table["columns"], table["name"]


def test_identifying_roles_ages_and_source_rules_of_the_heart_registry() -> None:
    plan = browser_plan(intake_api.load_dataset("nhr-pmicd"), ttp_public_key=b"\x09" * 32)
    assert plan["registry"] == "nhr" and plan["reidentifiable"] and plan["method"] == "zb2"
    assert plan["ttp_public_key"] == "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk="
    (main,) = plan["tables"]
    roles = {f["name"]: f["identifying"] for f in main["fields"] if f["identifying"]}
    assert roles == {"bsn": "pseudonymise", "achternaam": "drop", "geboortedatum": "year"}
    assert main["ages"] == [
        {"birth": "geboortedatum", "event": "procedure_datum", "column": "leeftijd"}
    ]
    assert main["member"] == "main.csv"
    assert "achternaam" not in main["columns"]
    checks = main["source_checks"]
    assert [f["name"] for f in checks["fields"]] == ["bsn", "achternaam", "geboortedatum"]
    assert [(r["code"], r["field"]) for r in checks["rules"]] == [
        ("F-301", "bsn"), ("F-303", "procedure_datum"), ("W-301", "geboortedatum"),
    ]  # fmt: skip
    assert checks["rules"][0]["when"] == {
        "node": "logic",
        "op": "not",
        "args": [
            {"node": "call", "function": "elfproef", "args": [{"node": "field", "name": "bsn"}]}
        ],
    }
    assert "bsn=F-301" in checks["findings"] and "geboortedatum=W-301" in checks["findings"]


def test_no_sealing_key_where_nothing_is_sealed() -> None:
    nivel = browser_plan(intake_api.load_dataset("nivel-fysio"), ttp_public_key=b"\x09" * 32)
    assert nivel["ttp_public_key"] is None and not nivel["reidentifiable"]
    assert not any(c.endswith("_verzegeld") for t in nivel["tables"] for c in t["columns"])
    assert browser_plan(intake_api.load_dataset("nhr-pmicd"))["ttp_public_key"] is None


def test_every_node_of_the_rule_language_has_its_json_shape() -> None:
    from zorgbroker.intake.checks import rule_language as rl

    tree = rl.parse(
        "a.b in ('1', 2) and not (c is not empty or -d * 2 >= e + 1.5) and f not in ('x')"
        " and g is empty and h(i) != 'J'"
    )
    assert node_json(tree) == {
        "node": "logic",
        "op": "and",
        "args": [
            {
                "node": "in",
                "value": {"node": "dotted", "head": "a", "field": "b"},
                "items": [{"node": "literal", "value": "1"}, {"node": "literal", "value": 2}],
                "negated": False,
            },
            {
                "node": "logic",
                "op": "not",
                "args": [
                    {
                        "node": "logic",
                        "op": "or",
                        "args": [
                            {
                                "node": "is_empty",
                                "value": {"node": "field", "name": "c"},
                                "negated": True,
                            },
                            {
                                "node": "compare",
                                "op": ">=",
                                "left": {
                                    "node": "arith",
                                    "op": "*",
                                    "left": {
                                        "node": "arith",
                                        "op": "-",
                                        "left": {"node": "literal", "value": 0},
                                        "right": {"node": "field", "name": "d"},
                                    },
                                    "right": {"node": "literal", "value": 2},
                                },
                                "right": {
                                    "node": "arith",
                                    "op": "+",
                                    "left": {"node": "field", "name": "e"},
                                    "right": {"node": "literal", "value": 1.5},
                                },
                            },
                        ],
                    }
                ],
            },
            {
                "node": "in",
                "value": {"node": "field", "name": "f"},
                "items": [{"node": "literal", "value": "x"}],
                "negated": True,
            },
            {"node": "is_empty", "value": {"node": "field", "name": "g"}, "negated": False},
            {
                "node": "compare",
                "op": "!=",
                "left": {"node": "call", "function": "h", "args": [{"node": "field", "name": "i"}]},
                "right": {"node": "literal", "value": "J"},
            },
        ],
    }
