"""The batch AES-SIV is AESSIV: same output, same refusals, on any key, message and data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from hypothesis import given, settings
from hypothesis import strategies as st

from zorgbroker.pseudonymisation.sealing import SealError, SealOpener, seal_bsns
from zorgbroker.pseudonymisation.siv_batch import (
    BATCH_FROM,
    BatchSIV,
    as_rows,
    binary_rows,
    row_bytes,
)


@st.composite
def batches(draw: st.DrawFn) -> tuple[bytes, list[bytes], list[object], list[list[bytes]]]:
    """A key, equally long messages, and associated data: each component either the same bytes
    for every row or a value of one width per row (the form the batch takes), with the same
    data spelled out per row (the form AESSIV takes)."""
    key = draw(st.sampled_from([32, 48, 64]).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
    count = draw(st.integers(1, 6))
    width = draw(st.integers(1, 40))
    messages = draw(
        st.lists(st.binary(min_size=width, max_size=width), min_size=count, max_size=count)
    )
    components: list[object] = []
    per_row: list[list[bytes]] = [[] for _ in range(count)]
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            value = draw(st.binary(max_size=40))
            components.append(value)
            for row in per_row:
                row.append(value)
        else:
            ad_width = draw(st.integers(0, 40))
            values = draw(
                st.lists(
                    st.binary(min_size=ad_width, max_size=ad_width), min_size=count, max_size=count
                )
            )
            components.append(
                np.frombuffer(b"".join(values), dtype=np.uint8).reshape(count, ad_width)
            )
            for row, value in zip(per_row, values, strict=True):
                row.append(value)
    return key, messages, components, per_row


@settings(max_examples=300, deadline=None)
@given(batches())
def test_every_row_is_sealed_exactly_as_aessiv_seals_it(
    batch: tuple[bytes, list[bytes], list[object], list[list[bytes]]],
) -> None:
    key, messages, components, per_row = batch
    width = len(messages[0])
    sealed = row_bytes(BatchSIV(key).encrypt(as_rows(b"".join(messages), width), components))
    reference = AESSIV(key)
    assert sealed == [reference.encrypt(m, ad) for m, ad in zip(messages, per_row, strict=True)]


@settings(max_examples=300, deadline=None)
@given(batches(), st.data())
def test_what_aessiv_sealed_opens_and_a_changed_byte_is_refused_in_its_row_only(
    batch: tuple[bytes, list[bytes], list[object], list[list[bytes]]], data: st.DataObject
) -> None:
    key, messages, components, per_row = batch
    reference = AESSIV(key)
    sealed = [reference.encrypt(m, ad) for m, ad in zip(messages, per_row, strict=True)]
    siv = BatchSIV(key)
    plain, authentic = siv.decrypt(as_rows(b"".join(sealed), len(sealed[0])), components)
    assert authentic.all() and row_bytes(plain) == messages

    row = data.draw(st.integers(0, len(sealed) - 1))
    at = data.draw(st.integers(0, len(sealed[0]) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = bytearray(sealed[row])
    damaged[at] ^= flip
    with pytest.raises(InvalidTag):
        reference.decrypt(bytes(damaged), per_row[row])
    rows = [*sealed[:row], bytes(damaged), *sealed[row + 1 :]]
    _, authentic = siv.decrypt(as_rows(b"".join(rows), len(sealed[0])), components)
    assert authentic.tolist() == [index != row for index in range(len(sealed))]


def test_keys_and_shapes_aessiv_would_refuse_are_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        BatchSIV(os.urandom(16))
    siv = BatchSIV(os.urandom(64))
    with pytest.raises(ValueError, match="at least one byte"):
        siv.encrypt(np.zeros((3, 0), dtype=np.uint8), [])
    with pytest.raises(ValueError, match="more than 16 bytes"):
        siv.decrypt(np.zeros((3, 16), dtype=np.uint8), [])
    with pytest.raises(ValueError, match="one row per message"):
        siv.encrypt(np.zeros((3, 9), dtype=np.uint8), [np.zeros((2, 32), dtype=np.uint8)])


def test_only_many_complete_equally_long_values_make_rows() -> None:
    many = BATCH_FROM
    rows = binary_rows(pl.Series([b"abc"] * many, dtype=pl.Binary))
    assert rows is not None and rows.shape == (many, 3)
    assert binary_rows(pl.Series([b"abc"] * (many - 1), dtype=pl.Binary)) is None
    assert binary_rows(pl.Series([b"abc"] * many + [b"de"], dtype=pl.Binary)) is None
    assert binary_rows(pl.Series([b"abc"] * many + [None], dtype=pl.Binary)) is None
    assert binary_rows(pl.Series([b""] * many, dtype=pl.Binary)) is None
    odd = [bytes([i % 256, 0, 255]) for i in range(many)]  # any bytes, zeros and all
    odd_rows = binary_rows(pl.Series(odd, dtype=pl.Binary))
    assert odd_rows is not None and row_bytes(odd_rows) == odd


def _bsns(count: int) -> list[str | None]:
    return [f"{100_000_000 + 7 * i}" for i in range(count)]


@pytest.mark.parametrize(
    "bsns",
    [
        [*_bsns(BATCH_FROM), None, "111222333"],  # one batch
        [*_bsns(BATCH_FROM), "1234.56782"],  # unequal lengths: one AESSIV call each
        ["111222333", None, "123456782"],  # few: one AESSIV call each
    ],
    ids=["batch", "unequal", "few"],
)
def test_sealed_bsns_open_at_the_ttp_whichever_way_they_were_sealed(bsns: list[str | None]) -> None:
    ttp_key = X25519PrivateKey.generate()
    p1 = pl.Series([os.urandom(32).hex() for _ in bsns])
    sealed = seal_bsns(
        pl.Series(bsns), p1, ttp_public_key=ttp_key.public_key().public_bytes_raw(), registry="nhr"
    )
    assert sealed.is_null().to_list() == [b is None for b in bsns]
    present = sealed.is_not_null()
    opened = SealOpener(ttp_key).open(sealed.filter(present), p1.filter(present), registry="nhr")
    assert opened == [b.encode() for b in bsns if b is not None]
    # And each value opens on its own with AESSIV, as the TTP's row-by-row path does.
    last = int(present.arg_true()[-1])
    one = SealOpener(ttp_key).open(sealed.slice(last, 1), p1.slice(last, 1), registry="nhr")
    assert one == [str(bsns[last]).encode()]


def test_a_large_batch_with_one_moved_value_is_refused_naming_that_row() -> None:
    ttp_key = X25519PrivateKey.generate()
    bsns = _bsns(BATCH_FROM + 5)
    p1 = pl.Series([os.urandom(32).hex() for _ in bsns])
    sealed = seal_bsns(
        pl.Series(bsns), p1, ttp_public_key=ttp_key.public_key().public_bytes_raw(), registry="nhr"
    )
    moved = sealed.scatter(BATCH_FROM, sealed[0])
    with pytest.raises(SealError, match=f"Regel {BATCH_FROM + 1}:"):
        SealOpener(ttp_key).open(moved, p1, registry="nhr")


SMALL_UPLOAD = """
import sys
from pathlib import Path
import polars as pl
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser

p = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=Path(sys.argv[1]))
with p.storing_in_background() as settle:
    pseudonyms = p.pseudonymise(pl.Series(["111222333", "123456782"]))
    settle()
print(pseudonyms.null_count(), "numpy" in sys.modules)
"""


def test_a_small_upload_seals_opens_and_stores_without_loading_numpy(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SMALL_UPLOAD, str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout.strip() == "0 False", done.stderr
