"""Method zb2: stage 1 uses the key of the receiving registry's project, so one BSN has
unrelated stage-1 pseudonyms for different registries."""

from __future__ import annotations

import stat
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from tests.pseudonymisation.conftest import BSNS
from zorgbroker.intake.spec.loader import load_dataset
from zorgbroker.pseudonymisation.cli import ttp_app
from zorgbroker.pseudonymisation.custody import (
    key_material,
    source_key,
    source_key_path,
    source_projects,
)
from zorgbroker.pseudonymisation.method import fingerprint
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser
from zorgbroker.pseudonymisation.source_file import stage1_frame
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty


def _bsn_column() -> pl.Series:
    return pl.Series("bsn", BSNS * 2)


def test_one_file_for_two_registries_shares_no_stage1_pseudonym(ttp: TrustedThirdParty) -> None:
    frame = pl.DataFrame({"bsn": _bsn_column()})
    kinds = {f.name: f.identifying for f in load_dataset("nhr-pmicd").main_table.fields}
    per_registry = {}
    for registry in ("nhr", "nivel", "parabench"):
        out, _ = stage1_frame(
            frame,
            {"bsn": kinds["bsn"]},
            key=source_key(ttp.home, registry),
            registry=registry,
            ttp_public_key=ttp.seal_public_key(),
        )
        per_registry[registry] = set(out["bsn"].to_list())
        assert len(per_registry[registry]) == len(BSNS)  # the same patient, the same P1
    assert not per_registry["nhr"] & per_registry["nivel"]
    assert not per_registry["nhr"] & per_registry["parabench"]
    assert not per_registry["nivel"] & per_registry["parabench"]


def test_the_pipeline_uses_the_project_key_of_its_registry(home: Path) -> None:
    nhr = Pseudonymiser.for_mode("production", registry="nhr", source="1", home=home)
    nivel = Pseudonymiser.for_mode("production", registry="nivel", source="1", home=home)
    assert not set(nhr.stage1(_bsn_column()).to_list()) & set(nivel.stage1(_bsn_column()).to_list())
    assert nhr.fingerprints()["method"] == "zb2"
    assert nhr.fingerprints()["source_key"] == fingerprint(source_key(home, "nhr"))
    assert nivel.fingerprints()["source_key"] == fingerprint(source_key(home, "nivel"))
    assert nhr.fingerprints()["source_key"] != nivel.fingerprints()["source_key"]
    assert nhr.pseudonymise(_bsn_column()).str.starts_with("zb2:nhr:k1:").all()


def test_project_keys_on_disk(home: Path) -> None:
    source_key(home, "nivel")
    path = source_key_path(home, "nivel")
    assert path == home / "source" / "project-nivel.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not (home / "source" / "source.key").exists()  # the zb1 key is never made again
    assert source_projects(home) == ["nivel"]
    assert path.read_bytes() in key_material(home)


def test_ttp_init_makes_the_project_keys_of_an_embedded_installation(home: Path) -> None:
    env = {"ZORGBROKER_HOME": str(home)}
    result = CliRunner().invoke(
        ttp_app, ["init", "--registry", "nhr", "--registry", "nivel"], env=env
    )
    assert result.exit_code == 0, result.output
    assert source_projects(home) == ["nhr", "nivel"]
    assert f"bronsleutel project nhr: {fingerprint(source_key(home, 'nhr'))}" in result.output
    assert not any(m.decode("latin-1") in result.output for m in key_material(home))


def test_ttp_init_on_its_own_machine_makes_no_source_key(home: Path) -> None:
    env = {"ZORGBROKER_HOME": str(home)}
    result = CliRunner().invoke(ttp_app, ["init", "--registry", "nhr", "--no-project-key"], env=env)
    assert result.exit_code == 0, result.output
    assert (home / "ttp" / "keys" / "registry-nhr-k1.key").exists()
    assert source_projects(home) == []


def test_a_zb1_pseudonym_stored_before_the_upgrade_can_still_be_requested(
    ttp: TrustedThirdParty,
) -> None:
    request = ttp.request_reidentification(
        "nhr", ["zb1:nhr:k1:" + "ab" * 32], reason="terugroepactie", requested_by="nhr-analist"
    )
    assert request.id


def test_ttp_init_warns_about_a_zb1_source_key(home: Path) -> None:
    (home / "source").mkdir(parents=True)
    (home / "source" / "source.key").write_bytes(bytes(32))
    env = {"ZORGBROKER_HOME": str(home)}
    result = CliRunner().invoke(ttp_app, ["init", "--registry", "nhr"], env=env)
    assert result.exit_code == 0, result.output
    assert "methode zb1" in result.output and "2.1" in result.output
    # The zb1 key is left alone (a registry may still need it to translate its pseudonyms).
    assert (home / "source" / "source.key").read_bytes() == bytes(32)
