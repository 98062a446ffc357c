"""The rule grammar's LALR tables, made ahead of time so that a run loads them instead.

Lark's analysis of the grammar takes about 0.1 s, more than reading and validating a whole
specification, and every `zorgbroker check` would pay it. `rule_parser.json` beside this file holds
its result (Lark's own serialisation, written as JSON) under a key made of the grammar, the parser
options and the Lark version. A run uses the file only when that key matches: after a change of
grammar, options or Lark, rules still parse correctly, just as slowly as before, until the file is
made again (a test fails until then):

    uv run python -m zorgbroker.intake.checks.parser_tables
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lark import Lark
from lark import __version__ as lark_version
from lark.grammar import Rule
from lark.lexer import TerminalDef

from zorgbroker.intake.checks import rule_language as rl

TABLES = Path(__file__).with_name("rule_parser.json")

#: Raised when the way this module writes the tables changes.
FORMAT = 1

# JSON has neither tuples nor non-string keys, and Lark's serialisation uses both.
_TUPLE, _ITEMS = "~tuple", "~items"


def tables_key() -> str:
    made_from = [str(FORMAT), lark_version, repr(sorted(rl.PARSER_OPTIONS.items())), rl.GRAMMAR]
    return hashlib.sha256("\n".join(made_from).encode("utf-8")).hexdigest()


def render() -> str:
    """The file's content as the grammar, its options and the installed Lark make it now."""
    data, memo = rl.build_parser().memo_serialize([TerminalDef, Rule])
    stored = {"key": tables_key(), "data": _encode(data), "memo": _encode(memo)}
    return json.dumps(stored, ensure_ascii=False, separators=(",", ":")) + "\n"


def load_tables() -> Lark | None:
    """The parser from the stored tables, or None when they are missing or were made otherwise."""
    try:
        stored = json.loads(TABLES.read_text(encoding="utf-8"), object_hook=_decode)
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("key") != tables_key():
        return None
    try:
        return Lark.load({"data": stored["data"], "memo": stored["memo"]})
    except Exception:  # any failure only means building the parser from the grammar instead
        return None


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in (_TUPLE, _ITEMS) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {_ITEMS: [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in the parser tables")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if _ITEMS in obj:
            return {k: v for k, v in obj[_ITEMS]}
        if _TUPLE in obj:
            return tuple(obj[_TUPLE])
    return obj


def main() -> None:
    TABLES.write_text(render(), encoding="utf-8")
    print(f"written: {TABLES}")


if __name__ == "__main__":
    main()
