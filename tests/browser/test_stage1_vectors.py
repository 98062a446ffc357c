"""The browser's stage 1 (portal/static/stage1) against the test vectors it shares with Python
(pseudonymisation/vectors/stage1-vectors.json, checked for Python by
tests/pseudonymisation/test_stage1_vectors.py), in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.static_site import static_page
from tests.pseudonymisation.test_stage1_vectors import vectors

#: Runs every vector through the modules and returns what they computed, case by case.
_RUN = """
async (data) => {
  const c = await import("/static/stage1/crypto.js");
  const d = await import("/static/stage1/derive.js");
  const { aessiv } = await import("/static/vendor/noble-ciphers/aes.js");
  const sealing = data.sealing;
  const sealer = await c.makeSealer(
    c.fromBase64(sealing.ttp_public_b64), sealing.registry,
    c.fromHex(sealing.ephemeral_private_hex));
  const rfc = data.aes_siv_rfc5297;
  return {
    bsn: data.bsn.map((v) => ({ normalised: c.normaliseBsn(v.raw),
                                valid: c.passesElevenTest(c.compactBsn(v.raw)) })),
    text: data.text.map((v) => c.normaliseText(v.raw)),
    p1: data.p1.map((v) => c.stage1Hasher(c.fromHex(v.key_hex), v.label).hex(v.value)),
    fingerprints: data.fingerprints.map((v) => c.fingerprint(c.fromHex(v.key_hex))),
    dates: data.dates.map((v) => d.parseDate(v.raw)),
    birth_years: data.dates.map((v) => d.birthYear(v.raw)),
    postcode4: data.postcode4.map((v) => d.postcode4(v.raw)),
    ages: data.ages.map((v) => d.ageText(v.birth, v.event)),
    sealed: sealing.values.map((v) => sealer.seal(v.bsn, c.fromHex(v.p1))),
    rfc: c.toHex(aessiv(c.fromHex(rfc.key_hex), ...rfc.ad_hex.map(c.fromHex))
                 .encrypt(c.fromHex(rfc.plain_hex))),
    rfc_own: c.toHex(c.sivWithAssociated(c.fromHex(rfc.key_hex), rfc.ad_hex.map(c.fromHex))
                     .encrypt(c.fromHex(rfc.plain_hex))),
  };
}
"""

#: The module's own HMAC and AES-SIV loops against @noble's reference functions, on random
#: keys, labels, values (one and several SHA-256 blocks, non-ASCII) and associated data.
_AGAINST_NOBLE = """
async () => {
  const c = await import("/static/stage1/crypto.js");
  const { hmac } = await import("/static/vendor/noble-hashes/hmac.js");
  const { sha256 } = await import("/static/vendor/noble-hashes/sha2.js");
  const { aessiv } = await import("/static/vendor/noble-ciphers/aes.js");
  const random = (n) => crypto.getRandomValues(new Uint8Array(n));
  const text = (n) => Array.from(random(n), (b) => "aé€𝄞 0z"[b % 7]).join("");
  const wrong = [];
  for (let i = 0; i < 300; i++) {
    const key = random([32, 16, 64, 80][i % 4]);
    const label = ["bsn", "achternaam", "x_y-z"][i % 3];
    const value = text(i % 90);
    const want = c.toHex(hmac(sha256, key, new TextEncoder().encode(label + "|" + value)));
    const hasher = c.stage1Hasher(key, label);
    const got = [hasher.hex(value), c.toHex(hasher.bytes(value))];
    if (got[0] !== want || got[1] !== want) wrong.push(["hmac", i]);
    const sivKey = random([32, 48, 64][i % 3]);
    const fixed = Array.from({ length: i % 3 }, (_, j) => random((i * 7 + j) % 40));
    const more = Array.from({ length: (i >> 1) % 3 }, (_, j) => random((i * 3 + j) % 35));
    const plain = random(i % 50);
    const own = c.sivWithAssociated(sivKey, fixed).encrypt(plain, ...more);
    const theirs = aessiv(sivKey, ...fixed, ...more).encrypt(plain);
    if (c.toHex(own) !== c.toHex(theirs)) wrong.push(["siv", i]);
    if (c.fastBase64(own) !== c.toBase64(own)) wrong.push(["base64", i]);
  }
  return wrong;
}
"""


@pytest.fixture(scope="module")
def computed(browser: Any) -> Iterator[dict[str, Any]]:
    for page in static_page(browser):
        yield page.evaluate(_RUN, vectors())


def test_bsn_normalisation_and_eleven_test(computed: dict[str, Any]) -> None:
    for case, got in zip(vectors()["bsn"], computed["bsn"], strict=True):
        assert got == {"normalised": case["normalised"], "valid": case["valid"]}, case["raw"]


def test_text_normalisation(computed: dict[str, Any]) -> None:
    assert computed["text"] == [c["normalised"] for c in vectors()["text"]]


def test_stage1_pseudonyms_and_fingerprints(computed: dict[str, Any]) -> None:
    assert computed["p1"] == [c["p1"] for c in vectors()["p1"]]
    assert computed["fingerprints"] == [c["fingerprint"] for c in vectors()["fingerprints"]]


def test_dates_birth_years_postcodes_and_ages(computed: dict[str, Any]) -> None:
    data = vectors()
    for case, got, year in zip(
        data["dates"], computed["dates"], computed["birth_years"], strict=True
    ):
        assert (got, year) == (case["date"], case["birth_year"]), case["raw"]
    assert computed["postcode4"] == [c["postcode4"] for c in data["postcode4"]]
    assert computed["ages"] == [c["age"] for c in data["ages"]]


def test_sealing_with_the_published_ephemeral_key(computed: dict[str, Any]) -> None:
    assert computed["sealed"] == [c["sealed"] for c in vectors()["sealing"]["values"]]


def test_aes_siv_meets_rfc5297(computed: dict[str, Any]) -> None:
    assert computed["rfc"] == computed["rfc_own"] == vectors()["aes_siv_rfc5297"]["sealed_hex"]


def test_the_fast_loops_compute_what_the_libraries_compute(browser: Any) -> None:
    for page in static_page(browser):
        assert page.evaluate(_AGAINST_NOBLE) == []
