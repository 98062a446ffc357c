"""Structure checks: a header is matched to the specification's fields, whatever the case."""

from __future__ import annotations

from zorgbroker.intake.api import load_dataset
from zorgbroker.intake.checks.messages import Messages
from zorgbroker.intake.checks.structure import match_header, structure_messages

SPEC = load_dataset("parabench-mi")
TABLE = SPEC.main_table
FIELDS = [f.name for f in TABLE.fields]


def codes(messages: Messages) -> list[tuple[str, str | None, str | None]]:
    frame = messages.frame([])
    return list(zip(frame["code"], frame["field"], frame["value"], strict=True))


def test_header_names_match_in_any_case_and_spacing() -> None:
    header = [" PRAKTIJK_AGB", "Jaar ", "kwartaal", "iets_anders"]
    assert match_header(header, TABLE) == {
        " PRAKTIJK_AGB": "praktijk_agb",
        "Jaar ": "jaar",
        "kwartaal": "kwartaal",
    }


def test_a_complete_header_gives_no_message() -> None:
    messages = Messages(SPEC)
    assert structure_messages(FIELDS, TABLE, messages, None)
    assert codes(messages) == []


def test_a_missing_column_is_named() -> None:
    messages = Messages(SPEC)
    assert not structure_messages([n for n in FIELDS if n != "jaar"], TABLE, messages, None)
    assert codes(messages) == [("BF-003", "jaar", None)]


def test_a_header_of_mostly_other_columns_is_another_file() -> None:
    messages = Messages(SPEC)
    assert not structure_messages(["a", "b", "c", FIELDS[0]], TABLE, messages, None)
    assert [code for code, _, _ in codes(messages)] == ["BF-004", "BW-001"]


def test_extra_columns_are_a_warning_and_forbidden_ones_reject() -> None:
    messages = Messages(SPEC)
    assert not structure_messages([*FIELDS, "Achternaam", "opmerking"], TABLE, messages, None)
    assert codes(messages) == [("BF-201", None, "Achternaam"), ("BW-001", None, "opmerking")]
