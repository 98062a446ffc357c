"""The rule parser's stored tables: made for this grammar, and parsing just as the grammar does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lark import Lark, Token, Tree
from lark.exceptions import LarkError

from zorgbroker.intake.checks import parser_tables
from zorgbroker.intake.checks import rule_language as rl
from zorgbroker.intake.spec import available, load_dataset

REMAKE = "uv run python -m zorgbroker.intake.checks.parser_tables"

#: Expressions that do not parse, each failing somewhere else in the grammar.
BROKEN = [
    "",
    "a = ",
    "a ==== b",
    "a; b",
    "(a = 1",
    "a = 1)",
    "a in 1, 2",
    "a in ()",
    "f(a,)",
    "a is",
    "a is not",
    "not",
    "a..b",
    "'open",
    "A = 1",
    "1.2.3 = a",
    "a - - ",
    "a and or b",
]


def corpus() -> list[str]:
    """Every expression of the shipped specifications, and a few more that reach other rules."""
    texts = [
        "-a * (b + 2) / 3 >= -1.5",
        "x.y = 'z' or not (a is empty and b is not empty)",
        "a not in ('J', 'N') and f() = g(a, b, c)",
        "if(a > 1, b, c) != coalesce(a, b)",
    ]
    for entry in available():
        spec = load_dataset(entry.name)
        for table in spec.tables:
            for rule in table.rules:
                texts += [text for _, text in rl.expand_each(rule.when, rule.each)]
            texts += [f.required for f in table.fields if isinstance(f.required, str)]
            texts += list(table.derive.values())
    return texts


def outcome(parser: Lark, text: str) -> object:
    """The tree as plain values (a loaded parser names rules by str, a built one by Token), the
    syntax tree the rule language makes of it, or the error a rule's author would be shown."""
    try:
        tree = parser.parse(text)
    except LarkError as exc:
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    return plain(tree), rl._ToTree().transform(tree)


def plain(node: object) -> object:
    if isinstance(node, Tree):
        return (str(node.data), [plain(child) for child in node.children])
    if isinstance(node, Token):
        return (node.type, str(node))
    return node


def test_stored_tables_are_made_for_this_grammar_options_and_lark() -> None:
    stored = json.loads(parser_tables.TABLES.read_text(encoding="utf-8"))
    assert stored["key"] == parser_tables.tables_key(), f"the tables are out of date: run {REMAKE}"
    assert parser_tables.load_tables() is not None


def test_stored_tables_parse_as_the_grammar_does() -> None:
    stored, built = parser_tables.load_tables(), rl.build_parser()
    assert stored is not None
    texts = corpus() + BROKEN
    assert len(texts) > 60
    differ = [t for t in texts if outcome(stored, t) != outcome(built, t)]
    assert differ == []


def test_rules_are_parsed_with_the_stored_tables() -> None:
    assert rl._parser().source_path == "<deserialized>"


def test_tables_of_another_grammar_are_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "rule_parser.json"
    stale.write_text(parser_tables.render(), encoding="utf-8")
    monkeypatch.setattr(parser_tables, "TABLES", stale)
    assert parser_tables.load_tables() is not None
    monkeypatch.setattr(rl, "GRAMMAR", rl.GRAMMAR.replace('"or"', '"of"'))
    assert parser_tables.load_tables() is None


@pytest.mark.parametrize("content", ["", "{", "[]", '{"key": "x"}'])
def test_unusable_tables_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> None:
    broken = tmp_path / "rule_parser.json"
    broken.write_text(content, encoding="utf-8")
    monkeypatch.setattr(parser_tables, "TABLES", broken)
    assert parser_tables.load_tables() is None
    monkeypatch.setattr(parser_tables, "TABLES", tmp_path / "missing.json")
    assert parser_tables.load_tables() is None
