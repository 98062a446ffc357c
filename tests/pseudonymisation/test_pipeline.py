"""Pseudonymisation as the intake uses it: production with the embedded TTP, and test mode."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from tests.pseudonymisation.conftest import BSNS
from zorgbroker.pseudonymisation.client import LocalTTP, TTPClient
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser, ThrowawayTTP


def _pseudonymise(home: Path, registry: str, values: Sequence[str | None]) -> list[str | None]:
    p = Pseudonymiser.for_mode("production", registry=registry, source="12345678", home=home)
    return p.pseudonymise(pl.Series("bsn", list(values), dtype=pl.String)).to_list()


def test_same_bsn_same_pseudonym_within_a_registry_across_uploads_and_sources(home: Path) -> None:
    first = _pseudonymise(home, "nivel", BSNS)
    again = Pseudonymiser.for_mode("production", registry="nivel", source="87654321", home=home)
    assert again.pseudonymise(pl.Series(BSNS)).to_list() == first
    assert len(set(first)) == len(BSNS)


def test_same_bsn_different_pseudonym_across_registries(home: Path) -> None:
    nhr = _pseudonymise(home, "nhr", BSNS)
    nivel = _pseudonymise(home, "nivel", BSNS)
    bench = _pseudonymise(home, "parabench", BSNS)
    assert all(p is not None and p.startswith("zb2:nhr:k1:") for p in nhr)
    digests = [{p.rsplit(":", 1)[1] for p in ps if p} for ps in (nhr, nivel, bench)]
    assert not digests[0] & digests[1] and not digests[0] & digests[2]
    assert not digests[1] & digests[2]


def test_written_forms_of_one_bsn_give_one_pseudonym(home: Path) -> None:
    got = _pseudonymise(home, "nivel", ["123456782", " 1234.56.782 ", "1234-56-782"])
    assert len(set(got)) == 1 and got[0] is not None


def test_missing_or_invalid_bsn_gets_no_pseudonym(home: Path) -> None:
    got = _pseudonymise(home, "nivel", ["123456782", None, "123456781", "000000000", "abc"])
    assert got[0] is not None
    assert got[1:] == [None, None, None, None]


def test_a_new_key_version_changes_the_label_and_the_pseudonym(home: Path) -> None:
    before = _pseudonymise(home, "nivel", BSNS)
    LocalTTP(home).ttp.rotate_key("nivel")
    after = _pseudonymise(home, "nivel", BSNS)
    assert all(p and p.startswith("zb2:nivel:k2:") for p in after)
    assert not set(before) & set(after)


def test_rekeying_translates_old_pseudonyms_to_new(home: Path) -> None:
    p = Pseudonymiser.for_mode("production", registry="nivel", source="12345678", home=home)
    old = p.pseudonymise(pl.Series(BSNS)).to_list()
    local = LocalTTP(home)
    local.ttp.rotate_key("nivel")
    pairs = local.rekey("nivel", p.stage1(pl.Series(BSNS)), source="12345678", from_version=1)
    assert pairs["old"].to_list() == old
    assert pairs["new"].to_list() == p.pseudonymise(pl.Series(BSNS)).to_list()


def test_test_mode_uploads_cannot_be_linked(home: Path) -> None:
    first = Pseudonymiser.for_mode("test", registry="nhr", source="12345678", home=home)
    second = Pseudonymiser.for_mode("test", registry="nhr", source="12345678", home=home)
    a = first.pseudonymise(pl.Series(BSNS)).to_list()
    b = second.pseudonymise(pl.Series(BSNS)).to_list()
    assert all(p and p.startswith("zb2:nhr:test:") for p in a)
    assert not set(a) & set(b)
    # Within one upload the same patient is still recognisable.
    assert first.pseudonymise(pl.Series(BSNS)).to_list() == a
    assert first.fingerprints()["registry_key_version"] == "test"
    assert not home.exists(), "test mode must not write anything"


def test_fingerprints_name_keys_without_revealing_them(home: Path) -> None:
    p = Pseudonymiser.for_mode("production", registry="nhr", source="12345678", home=home)
    info = p.fingerprints()
    assert info["registry"] == "nhr" and info["registry_key_version"] == "k1"
    assert len(info["source_key"]) == 16 and len(info["registry_key"]) == 16
    from zorgbroker.pseudonymisation.custody import key_material

    values = " ".join(info.values()).encode()
    assert not any(material in values for material in key_material(home))


def test_clients_implement_the_protocol(home: Path) -> None:
    assert isinstance(LocalTTP(home), TTPClient)
    assert isinstance(ThrowawayTTP(), TTPClient)


def test_engine_callback_pseudonymises_surnames_apart_from_bsns(home: Path) -> None:
    p = Pseudonymiser.for_mode("production", registry="nivel", source="12345678", home=home)
    names = p.pseudonymise_field("therapeuten", "achternaam", pl.Series(["De  Vries", "de vries"]))
    assert names[0] == names[1] and names[0] is not None
    bsn = p.pseudonymise_field("patienten", "bsn", pl.Series(["123456782"]))
    assert bsn[0] != names[0]
