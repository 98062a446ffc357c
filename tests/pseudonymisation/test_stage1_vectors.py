"""The stage-1 test vectors shared with the browser (pseudonymisation/vectors/stage1-vectors.json):
Python's stage 1 must give every published answer. tests/browser/test_stage1_vectors.py holds
the browser's modules to the same file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import polars as pl
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

import zorgbroker.pseudonymisation as package
from zorgbroker.pseudonymisation.bsn import bsn_is_valid, normalise_bsn
from zorgbroker.pseudonymisation.method import fingerprint
from zorgbroker.pseudonymisation.reductions import age_at, parse_date, postcode4
from zorgbroker.pseudonymisation.sealing import SealOpener, _seal_key
from zorgbroker.pseudonymisation.source import normalise_text_expr, stage1

VECTORS_PATH = Path(package.__file__).parent / "vectors" / "stage1-vectors.json"


def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


def test_the_file_publishes_every_kind_of_vector() -> None:
    data = vectors()
    for kind in ("bsn", "text", "p1", "fingerprints", "dates", "postcode4", "ages"):
        assert len(data[kind]) >= 2, kind
    assert data["sealing"]["values"]
    # Both outcomes are covered, or a test could pass with a constant.
    assert {v["valid"] for v in data["bsn"]} == {True, False}
    assert {v["date"] is None for v in data["dates"]} == {True, False}


def test_bsn_normalisation_and_eleven_test() -> None:
    cases = vectors()["bsn"]
    raw = pl.Series([c["raw"] for c in cases])
    assert normalise_bsn(raw).to_list() == [c["normalised"] for c in cases]
    assert bsn_is_valid(raw).to_list() == [c["valid"] for c in cases]


def test_text_normalisation() -> None:
    cases = vectors()["text"]
    raw = pl.Series([c["raw"] for c in cases])
    got = pl.select(normalise_text_expr(pl.lit(raw))).to_series().to_list()
    assert got == [c["normalised"] for c in cases]


def test_stage1_pseudonyms_and_fingerprints() -> None:
    data = vectors()
    for case in data["p1"]:
        key = bytes.fromhex(case["key_hex"])
        got = stage1(pl.Series([case["value"]]), key=key, label=case["label"])[0]
        assert got == case["p1"], case
    for case in data["fingerprints"]:
        assert fingerprint(bytes.fromhex(case["key_hex"])) == case["fingerprint"]


def test_dates_birth_years_postcodes_and_ages() -> None:
    data = vectors()
    parsed = pl.DataFrame({"v": [c["raw"] for c in data["dates"]]}).select(
        d=parse_date(pl.col("v"))
    )
    # Years before 1 (which Python's date cannot hold) are compared as numbers.
    parts = parsed.select(
        year=pl.col("d").dt.year(), month=pl.col("d").dt.month(), day=pl.col("d").dt.day()
    )
    for case, (year, month, day) in zip(data["dates"], parts.iter_rows(), strict=True):
        got = None if year is None else {"year": year, "month": month, "day": day}
        assert got == case["date"], case["raw"]
    codes = pl.Series([c["raw"] for c in data["postcode4"]])
    got_codes = pl.DataFrame({"v": codes}).select(postcode4(pl.col("v")))["v"].to_list()
    assert got_codes == [c["postcode4"] for c in data["postcode4"]]
    births = pl.Series("b", [c["birth"] for c in data["ages"]])
    events = pl.Series("e", [c["event"] for c in data["ages"]])
    ages = (
        pl.DataFrame([births, events])
        .select(age_at(parse_date(pl.col("b")), parse_date(pl.col("e"))).cast(pl.String))
        .to_series()
    )
    assert ages.to_list() == [c["age"] for c in data["ages"]]


def test_sealing_vector_is_what_the_ttp_opens() -> None:
    sealing = vectors()["sealing"]
    ttp = X25519PrivateKey.from_private_bytes(bytes.fromhex(sealing["ttp_private_hex"]))
    ttp_public = ttp.public_key().public_bytes_raw()
    assert base64.b64encode(ttp_public).decode() == sealing["ttp_public_b64"]
    ephemeral = X25519PrivateKey.from_private_bytes(bytes.fromhex(sealing["ephemeral_private_hex"]))
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    assert base64.b64encode(ephemeral_public).decode() == sealing["ephemeral_public_b64"]
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(ttp_public))
    key = _seal_key(shared, sealing["registry"], ephemeral_public, ttp_public)
    assert key.hex() == sealing["seal_key_hex"]
    for case in sealing["values"]:
        p1 = bytes.fromhex(case["p1"])
        cipher = AESSIV(key).encrypt(case["bsn"].encode(), [sealing["registry"].encode(), p1])
        prefix = f"zb1s.{sealing['ephemeral_public_b64']}."
        assert case["sealed"] == prefix + base64.b64encode(cipher).decode()
    opened = SealOpener(ttp).open(
        pl.Series([c["sealed"] for c in sealing["values"]]),
        pl.Series([c["p1"] for c in sealing["values"]]),
        registry=sealing["registry"],
    )
    assert [b.decode() for b in opened] == [c["bsn"] for c in sealing["values"]]


def test_rfc5297_vector() -> None:
    case = vectors()["aes_siv_rfc5297"]
    sealed = AESSIV(bytes.fromhex(case["key_hex"])).encrypt(
        bytes.fromhex(case["plain_hex"]), [bytes.fromhex(a) for a in case["ad_hex"]]
    )
    assert sealed.hex() == case["sealed_hex"]
