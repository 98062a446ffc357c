"""The wrapped source key (docs/pseudonymisation.md, section 9): the published vectors, and what
a wrong password, another user's blob or a weakened blob give."""

from __future__ import annotations

import json
import unicodedata
from importlib import resources
from typing import Any

import pytest

from zorgbroker.pseudonymisation.keywrap import (
    MIN_ITERATIONS,
    WRONG_PASSWORD,
    NotAWrappedKey,
    WrappedKey,
    WrongPassword,
    unwrap_key,
    wrap_key,
)
from zorgbroker.pseudonymisation.method import fingerprint


def published() -> dict[str, Any]:
    text = (
        resources.files("zorgbroker.pseudonymisation")
        .joinpath("vectors/keywrap-vectors.json")
        .read_text("utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


VECTORS = published()["vectors"]
REFUSALS = published()["refusals"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["note"][:40] for v in VECTORS])
def test_each_vector_unwraps_to_its_key(vector: dict[str, Any]) -> None:
    blob = WrappedKey.from_json(vector["blob"])
    key = unwrap_key(blob, vector["password"])
    assert key.hex() == vector["key_hex"]
    assert blob.key_fingerprint == fingerprint(key)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["note"][:40] for v in VECTORS])
def test_wrapping_with_the_vectors_salt_and_iv_gives_the_published_blob(
    vector: dict[str, Any],
) -> None:
    given = WrappedKey.from_json(vector["blob"])
    made = wrap_key(
        bytes.fromhex(vector["key_hex"]), vector["password"], registry=given.registry,
        organisation=given.organisation, email=given.email, iterations=given.iterations,
        salt=given.salt, iv=given.iv,
    )  # fmt: skip
    assert made.to_json() == vector["blob"]


def test_the_password_is_compared_in_its_composed_form() -> None:
    vector = next(v for v in VECTORS if not v["password"].isascii())
    decomposed = unicodedata.normalize("NFD", vector["password"])
    assert decomposed != vector["password"]
    assert unwrap_key(WrappedKey.from_json(vector["blob"]), decomposed).hex() == vector["key_hex"]


@pytest.mark.parametrize("refusal", REFUSALS, ids=[r["note"][:40] for r in REFUSALS])
def test_each_published_refusal_is_refused_as_a_wrong_password(refusal: dict[str, Any]) -> None:
    with pytest.raises(WrongPassword) as refused:
        unwrap_key(WrappedKey.from_json(refusal["blob"]), refusal["password"])
    assert str(refused.value) == WRONG_PASSWORD == "Het TTP-wachtwoord klopt niet."


def test_a_blob_asking_for_too_few_rounds_is_not_opened() -> None:
    blob = dict(VECTORS[0]["blob"], iterations=MIN_ITERATIONS - 1)
    with pytest.raises(NotAWrappedKey, match="te weinig PBKDF2-rondes"):
        WrappedKey.from_json(blob)


def test_a_foreign_json_is_not_a_wrapped_key() -> None:
    with pytest.raises(NotAWrappedKey, match="geen sleutelomslag"):
        WrappedKey.from_json({"format": "iets-anders"})


def test_new_wrappings_have_fresh_salt_and_iv() -> None:
    key = bytes(range(32))
    first, second = (
        wrap_key(key, "een-wachtwoord", registry="nhr", organisation="01234567",
                 email="a@b.example", iterations=MIN_ITERATIONS)
        for _ in range(2)
    )  # fmt: skip
    assert first.salt != second.salt and first.iv != second.iv
    assert first.wrapped != second.wrapped
    assert unwrap_key(second, "een-wachtwoord") == key
