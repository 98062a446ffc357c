"""A large batch goes into the re-identification store as one packed statement; what is stored
is the same as row by row: every pseudonym once, its first sealed value, text and blob types."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from zorgbroker.pseudonymisation.ttp_store import _PACKED_FROM, TTPStore


def _batch(count: int, *, repeat_at: int | None = None) -> tuple[list[str], list[bytes]]:
    names = sorted(secrets.token_hex(32) for _ in range(count))
    if repeat_at is not None:
        names[repeat_at + 1] = names[repeat_at]  # still in order: first row of a repeat first
    return names, [os.urandom(25) for _ in names]


def _stored(store: TTPStore) -> dict[str, tuple[str, str, bytes]]:
    """Per pseudonym: its source, the SQLite types of the pseudonym and the sealed value, and
    the sealed value."""
    with store.connect() as db:
        rows = db.execute(
            "SELECT pseudonym, source, typeof(pseudonym) || '/' || typeof(sealed), sealed FROM reid"
        ).fetchall()
    return {str(p): (str(source), str(kinds), bytes(c)) for p, source, kinds, c in rows}


@pytest.mark.parametrize("packed", [True, False], ids=["packed", "row-by-row"])
def test_a_large_batch_is_stored_once_per_pseudonym_first_value_first(
    tmp_path: Path, packed: bool
) -> None:
    store = TTPStore(tmp_path / "ttp.sqlite3")
    store.create()
    names, sealed = _batch(_PACKED_FROM + 50, repeat_at=10)
    if not packed:
        sealed[-1] = sealed[-1] + b"x"  # one value of another length: row by row
    store.store_sealed_in_order("nhr", 1, "01234567", names, sealed)

    stored = _stored(store)
    expected: dict[str, bytes] = {}
    for name, value in zip(names, sealed, strict=True):
        expected.setdefault(name, value)
    assert {name: row[2] for name, row in stored.items()} == expected
    assert {row[0] for row in stored.values()} == {"01234567"}
    assert {row[1] for row in stored.values()} == {"text/blob"}
    # And they are found again as a re-identification finds them.
    found = store.sealed_for("nhr", 1, [names[0], names[10], names[-1]])
    assert found == sorted(
        (name, "01234567", expected[name]) for name in {names[0], names[10], names[-1]}
    )


def test_a_second_batch_keeps_what_the_first_stored(tmp_path: Path) -> None:
    store = TTPStore(tmp_path / "ttp.sqlite3")
    store.create()
    names, sealed = _batch(_PACKED_FROM)
    store.store_sealed_in_order("nhr", 1, "01234567", names, sealed)
    again = [os.urandom(25) for _ in names]
    store.store_sealed_in_order("nhr", 1, "01234567", names, again)  # the same pseudonyms
    store.store_sealed_in_order("nhr", 1, "87654321", names, again)  # another source
    stored = store.sealed_for("nhr", 1, names[:1])
    assert stored == [(names[0], "01234567", sealed[0]), (names[0], "87654321", again[0])]


def test_packed_rows_must_match_their_widths_and_none_store_nothing(tmp_path: Path) -> None:
    from zorgbroker.pseudonymisation.ttp_store import PackedRows

    with pytest.raises(ValueError, match="count and widths"):
        PackedRows(count=2, names=b"ab" * 3, name_width=2, ciphers=b"x" * 2, cipher_width=1)
    store = TTPStore(tmp_path / "ttp.sqlite3")
    store.create()
    store.store_packed("nhr", 1, "01234567", PackedRows(0, b"", 64, b"", 25))
    assert _stored(store) == {}
