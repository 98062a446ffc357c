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
  };
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


def test_the_aes_siv_library_meets_rfc5297(computed: dict[str, Any]) -> None:
    assert computed["rfc"] == vectors()["aes_siv_rfc5297"]["sealed_hex"]
