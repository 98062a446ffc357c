"""`zorgbroker submit`'s two halves without a raw file at the registry: the source makes the
stage-1 file (`make_stage1`), the registry relays its pseudonyms to the TTP (`Stage1Relay`)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import polars as pl
import pytest

from zorgbroker.intake.generate import generate
from zorgbroker.pseudonymisation.custody import source_key
from zorgbroker.pseudonymisation.errors import BatchRejected
from zorgbroker.pseudonymisation.method import fingerprint
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser
from zorgbroker.pseudonymisation.relay import Stage1Relay
from zorgbroker.pseudonymisation.source_side import make_stage1
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nhr") / "export.csv"
    generate("nhr-pmicd", rows=60, out=out, error_rate=0.3, seed=9, today=TODAY)
    return out


def _main(path: Path) -> pl.DataFrame:
    with zipfile.ZipFile(path) as archive:
        data = archive.read("main.csv")
    return pl.read_csv(io.BytesIO(data), separator=";", infer_schema=False)


def test_relayed_stage1_pseudonyms_equal_the_embedded_pipeline(
    export: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    ttp = TrustedThirdParty(home)
    ttp.init()
    made = make_stage1(
        export, "nhr-pmicd", tmp_path / "s.zip", mode="production", home=home, today=TODAY
    )
    assert made.source_key_fingerprint == fingerprint(source_key(home, "nhr"))
    table = _main(made.path)
    relay = Stage1Relay.for_mode(
        "production",
        registry="nhr",
        source="01234567",
        source_key_fingerprint=made.source_key_fingerprint,
        home=home,
    )
    with relay.storing_in_background() as settle:
        relayed = relay.pseudonymise_field("main", "bsn", table["bsn"], table["bsn_verzegeld"])
        settle()
    raw = pl.read_csv(export, separator=";", infer_schema=False)["bsn"]
    direct = Pseudonymiser.for_mode("production", registry="nhr", source="01234567", home=home)
    assert relayed.to_list() == direct.pseudonymise(raw).to_list()
    assert relayed.drop_nulls().str.starts_with("zb2:nhr:k1:").all()
    with ttp.store.connect() as db:  # the sealed BSNs were opened and kept for recalls
        kept = db.execute("SELECT COUNT(*) FROM reid WHERE registry='nhr'").fetchone()[0]
    assert kept > 0
    assert relay.fingerprints()["source_key"] == made.source_key_fingerprint
    assert relay.fingerprints()["method"] == "zb2"


def test_a_test_upload_uses_a_throwaway_key_and_seals_nothing(export: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = make_stage1(export, "nhr-pmicd", tmp_path / "s.zip", mode="test", home=home)
    table = _main(made.path)
    assert "bsn_verzegeld" not in table.columns
    assert not (home / "source").exists()  # no project key made or used
    relay = Stage1Relay.for_mode(
        "test", registry="nhr", source="1", source_key_fingerprint=made.source_key_fingerprint
    )
    out = relay.pseudonymise_field("main", "bsn", table["bsn"])
    assert out.drop_nulls().str.starts_with("zb2:nhr:test:").all()
    assert not (home / "ttp").exists()


def test_the_ttp_refuses_a_plain_bsn_relayed_as_stage1(tmp_path: Path) -> None:
    TrustedThirdParty(tmp_path / "home").init()
    relay = Stage1Relay.for_mode(
        "production",
        registry="nivel",
        source="1",
        source_key_fingerprint="x",
        home=tmp_path / "home",
    )
    with pytest.raises(BatchRejected):
        relay.pseudonymise_field("patienten", "bsn", pl.Series("bsn", ["123456782"]))
