"""The published known-answer vectors of docs/pseudonymisation.md, read from the document itself."""

from __future__ import annotations

import hmac
import re
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.nl import bsn as stdnum_bsn

from tests.pseudonymisation.conftest import TEST_REGISTRY_KEYS, TEST_SOURCE_KEYS
from zorgbroker.pseudonymisation.bsn import normalise_bsn
from zorgbroker.pseudonymisation.hmac_batch import (
    hmac_binary_series,
    hmac_hex_of_hex_series,
    hmac_hex_series,
)
from zorgbroker.pseudonymisation.method import fingerprint, pseudonym_prefix
from zorgbroker.pseudonymisation.source import stage1
from zorgbroker.pseudonymisation.stage2 import stage2

DOC = Path(__file__).parents[2] / "docs" / "pseudonymisation.md"


def _block(name: str) -> list[str]:
    match = re.search(rf"```{name}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert match, f"block {name} missing from {DOC}"
    return [line for line in match.group(1).splitlines() if line and not line.startswith("#")]


def test_the_document_publishes_vectors() -> None:
    assert len(_block("vectors")) >= 5
    assert len(_block("normalisation")) >= 5


def test_published_stage1_and_stage2_vectors_pass() -> None:
    for line in _block("vectors"):
        label, value, p1, registry, labelled = (part.strip() for part in line.split("|"))
        got_p1 = stage1(pl.Series([value]), key=TEST_SOURCE_KEYS[registry], label=label)
        assert got_p1.to_list() == [p1]
        got = stage2(
            got_p1, key=TEST_REGISTRY_KEYS[registry], prefix=pseudonym_prefix(registry, "k1")
        )
        assert got.to_list() == [labelled]


def test_published_vectors_give_one_bsn_unrelated_p1s_per_project() -> None:
    p1s: dict[str, dict[str, str]] = {}
    for line in _block("vectors"):
        label, value, p1, registry, _ = (part.strip() for part in line.split("|"))
        if label == "bsn":
            p1s.setdefault(value, {})[registry] = p1
    both = [by_registry for by_registry in p1s.values() if len(by_registry) == 2]
    assert both and all(pair["nhr"] != pair["nivel"] for pair in both)


def test_published_vectors_are_of_method_zb2() -> None:
    assert all(line.split("|")[4].strip().startswith("zb2:") for line in _block("vectors"))


def test_published_normalisation_vectors_pass() -> None:
    for line in _block("normalisation"):
        raw, _, expected = line.partition(" -> ")
        got = normalise_bsn(pl.Series([raw], dtype=pl.String)).to_list()
        assert got == [None if expected.strip() == "rejected" else expected.strip()], raw


def test_published_fingerprints() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"fingerprint `{fingerprint(TEST_SOURCE_KEYS['nhr'])}`" in text
    assert f"fingerprint `{fingerprint(TEST_SOURCE_KEYS['nivel'])}`" in text
    assert f"fingerprint `{fingerprint(TEST_REGISTRY_KEYS['nhr'])}`" in text


@given(
    st.lists(st.none() | st.binary(max_size=80), max_size=20),
    st.binary(min_size=1, max_size=100),
    st.binary(max_size=12),
)
def test_column_hmac_equals_the_standard_library(
    messages: list[bytes | None], key: bytes, prefix: bytes
) -> None:
    column = pl.Series(messages, dtype=pl.Binary)
    expected = [None if m is None else hmac.digest(key, prefix + m, "sha256") for m in messages]
    assert hmac_binary_series(key, column, prefix=prefix).to_list() == expected
    assert hmac_hex_series(key, column, prefix=prefix).to_list() == [
        None if d is None else d.hex() for d in expected
    ]


@given(st.text(alphabet="0123456789 .-", max_size=12))
def test_eleven_test_agrees_with_python_stdnum(raw: str) -> None:
    compact = raw.replace(" ", "").replace(".", "").replace("-", "")
    expected_valid = len(compact) in (8, 9) and stdnum_bsn.is_valid(compact)
    got = normalise_bsn(pl.Series([raw], dtype=pl.String)).to_list()[0]
    assert (got is not None) == expected_valid
    if got is not None:
        assert got == compact.zfill(9)


def test_nulls_stay_null_in_both_stages() -> None:
    p1 = stage1(pl.Series(["123456782", None]), key=TEST_SOURCE_KEYS["nhr"])
    assert p1[1] is None
    assert stage2(p1, key=TEST_REGISTRY_KEYS["nhr"], prefix="zb2:nhr:k1:")[1] is None


@given(
    st.lists(st.binary(min_size=32, max_size=32), max_size=20), st.binary(min_size=1, max_size=80)
)
def test_stage2_block_hmac_equals_the_standard_library(items: list[bytes], key: bytes) -> None:
    got = hmac_hex_of_hex_series(key, pl.Series([m.hex() for m in items], dtype=pl.String))
    assert got.to_list() == [hmac.digest(key, m, "sha256").hex() for m in items]


@pytest.mark.parametrize("bad", ["ab" * 31, "ab" * 33, "zz" * 32])
def test_stage2_hmac_refuses_what_is_not_32_bytes_of_hex(bad: str) -> None:
    with pytest.raises(ValueError, match="64 hexadecimal digits"):
        hmac_hex_of_hex_series(b"k", pl.Series(["ab" * 32, bad]))
