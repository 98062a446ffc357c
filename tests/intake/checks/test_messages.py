"""The message collector: file-level messages first, then each table's, with class and text."""

from __future__ import annotations

import polars as pl

from zorgbroker.intake.api import MESSAGE_SCHEMA, load_dataset
from zorgbroker.intake.checks.messages import Messages, message_frame

SPEC = load_dataset("nivel-fysio")


def record_message(table: str, record: int, code: str) -> pl.DataFrame:
    return message_frame([(table, record, "veld", code, "x")], SPEC)


def test_messages_come_in_report_order_with_their_class_and_text() -> None:
    messages = Messages(SPEC)
    tables = [t.name for t in SPEC.tables]
    messages.add_table(tables[1], record_message(tables[1], 1, "F-001"))
    messages.add_table(tables[0], record_message(tables[0], 2, "F-002"))
    messages.file("BW-001", table=tables[1], value="extra")
    frame = messages.frame(tables)
    assert frame.schema == pl.Schema(MESSAGE_SCHEMA)
    assert frame.select("table", "record", "code", "class").rows() == [
        (tables[1], None, "BW-001", "BW"),
        (tables[0], 2, "F-002", "F"),
        (tables[1], 1, "F-001", "F"),
    ]
    assert frame["message"][0] == "Extra kolommen genegeerd"


def test_only_a_bf_message_rejects_the_file() -> None:
    messages = Messages(SPEC)
    messages.file("BW-001")
    assert not messages.has_file_rejection()
    messages.file("BF-005")
    assert messages.has_file_rejection()


def test_an_empty_table_frame_is_not_kept() -> None:
    messages = Messages(SPEC)
    messages.add_table("x", record_message("x", 1, "F-001").clear())
    assert messages.tables == {}
    assert messages.frame(["x"]).height == 0
