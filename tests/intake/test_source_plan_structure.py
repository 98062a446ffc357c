"""What the source plan tells a non-Python source besides the source checks themselves: the
header check of each table, and the other fields the source checks read
(docs/stage1-browser-reading.md)."""

from __future__ import annotations

from zorgbroker.intake.api import load_dataset
from zorgbroker.intake.source_plan import source_check_plan


def test_a_rule_reading_a_registry_field_brings_that_fields_checks() -> None:
    plan = source_check_plan(load_dataset("nhr-pmicd"))["main"]
    # F-303 (procedure before birth) reads procedure_datum, whose own checks are the registry's:
    # a malformed procedure date holds the rule back, so the source must know its checks.
    assert [f["name"] for f in plan["read_fields"]] == ["procedure_datum"]
    procedure = plan["read_fields"][0]
    assert procedure["type"] == "date" and procedure["required"] is True
    assert "procedure_datum" not in {f["name"] for f in plan["fields"]}


def test_the_header_check_travels_with_each_table() -> None:
    nivel = source_check_plan(load_dataset("nivel-fysio"))
    practice = nivel["praktijk"]["structure"]
    assert practice["rows"] == "one" and practice["rows_code"] == "BF-101"
    assert practice["missing_table_code"] == "BF-101"
    assert "praktijk_agb" in practice["needs_column"]
    benchmark = source_check_plan(load_dataset("parabench-mi"))["main"]["structure"]
    assert benchmark["forbidden_code"] == "BF-201"
    assert "bsn" in benchmark["forbidden_columns"]
    # A column that is not required (a lead position) is no column the header must have.
    nhr = source_check_plan(load_dataset("nhr-pmicd"))["main"]["structure"]
    assert "lead1_positie" not in nhr["needs_column"] and "bsn" in nhr["needs_column"]
