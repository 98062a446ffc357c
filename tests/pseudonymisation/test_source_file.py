"""The source side's stage-1 file."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import zorgbroker.intake.readers as readers
from tests.pseudonymisation.conftest import BSNS
from zorgbroker.intake.spec.loader import load_dataset
from zorgbroker.pseudonymisation.custody import source_key
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser
from zorgbroker.pseudonymisation.source_file import SEALED_SUFFIX, age_derivations, stage1_frame
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

needs_readers = pytest.mark.skipif(
    not hasattr(readers, "open_upload"), reason="intake readers (open_upload) not there yet"
)


def _nhr_rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "centrum_agb": ["06010101"] * 3,
            "bsn": [BSNS[0], "123456781", BSNS[1]],
            "achternaam": ["Jansen", "de Vries", "Bakker"],
            "geboortedatum": ["1950-06-15", "1960-01-01", "15-06-1970"],
            "procedure_datum": ["2020-06-14", "2020-01-01", "2020-06-15"],
            "geslacht": ["M", "V", "X"],
        }
    )


def test_stage1_frame_for_the_heart_registry(ttp: TrustedThirdParty) -> None:
    table = load_dataset("nhr-pmicd").main_table
    kinds = {f.name: f.identifying for f in table.fields}
    key = source_key(ttp.home, "nhr")
    out, invalid = stage1_frame(
        _nhr_rows(),
        kinds,
        key=key,
        registry="nhr",
        ttp_public_key=ttp.seal_public_key(),
        age_at_event=age_derivations(table),
    )
    assert "achternaam" not in out.columns
    assert out["geboortedatum"].to_list() == ["1950", "1960", "1970"]
    assert out["leeftijd"].to_list() == ["69", "60", "50"]
    assert invalid.to_list() == [False, True, False]
    assert out["bsn"][1] is None and out["bsn" + SEALED_SUFFIX][1] is None
    text = out.write_csv()
    assert not any(b in text for b in BSNS) and "Jansen" not in text and "1950-06-15" not in text

    # What the registry relays to the TTP gives the same pseudonyms as the embedded path.
    relayed = ttp.pseudonymise(
        "nhr", out["bsn"], source="06010101", sealed=out["bsn" + SEALED_SUFFIX]
    )
    direct = Pseudonymiser.for_mode("production", registry="nhr", source="06010101", home=ttp.home)
    assert relayed.to_list() == direct.pseudonymise(_nhr_rows()["bsn"]).to_list()


def test_stage1_frame_without_sealing_for_other_registries(home: Path) -> None:
    frame = pl.DataFrame({"bsn": BSNS, "achternaam": ["A", "B", "C", "D"]})
    out, _ = stage1_frame(
        frame,
        {"bsn": "pseudonymise", "achternaam": "pseudonymise"},
        key=source_key(home, "nivel"),
        registry="nivel",
        ttp_public_key=None,
    )
    assert out.columns == ["bsn", "achternaam"]
    assert out["bsn"].str.contains("^[0-9a-f]{64}$").all()


def _write_nhr_csv(path: Path) -> None:
    table = load_dataset("nhr-pmicd").main_table
    frame = _nhr_rows()
    for f in table.fields:
        if f.name not in frame.columns:
            frame = frame.with_columns(pl.lit("").alias(f.name))
    frame.select([f.name for f in table.fields]).write_csv(path, separator=";")


@needs_readers
def test_pseudonymise_command_writes_the_stage1_file(tmp_path: Path) -> None:
    import typer

    from zorgbroker.pseudonymisation.cli import pseudonymise_command

    app = typer.Typer()
    app.command()(pseudonymise_command)
    export = tmp_path / "export.csv"
    _write_nhr_csv(export)
    out = tmp_path / "stap1.zip"
    home = tmp_path / "home"
    TrustedThirdParty(home).init()
    result = CliRunner().invoke(
        app,
        [str(export), "--dataset", "nhr-pmicd", "--registry", "nhr", "--output", str(out)],
        env={"ZORGBROKER_HOME": str(home)},
    )
    assert result.exit_code == 0, result.output
    assert "rij 2" in result.output  # the BSN failing the eleven-test, by row number only
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["main.csv", "zorgbroker-stap1.json"]
        written = archive.read("main.csv").decode("utf-8")
    assert not any(b in written for b in BSNS) and "Jansen" not in written
    frame = pl.read_csv(io.StringIO(written), separator=";", infer_schema=False)
    assert "bsn_verzegeld" in frame.columns and "achternaam" not in frame.columns
    assert frame["zb_bronbevindingen"][1] == "bsn=F-301"


@needs_readers
def test_pseudonymise_command_refuses_the_wrong_registry(tmp_path: Path) -> None:
    import typer

    from zorgbroker.pseudonymisation.cli import pseudonymise_command

    app = typer.Typer()
    app.command()(pseudonymise_command)
    export = tmp_path / "export.csv"
    _write_nhr_csv(export)
    target = tmp_path / "x.csv"
    result = CliRunner().invoke(
        app,
        [str(export), "--dataset", "nhr-pmicd", "--registry", "nivel", "--output", str(target)],
        env={"ZORGBROKER_HOME": str(tmp_path / "home")},
    )
    assert result.exit_code == 1 and "register nhr" in result.output
    assert not target.exists()
    assert not (tmp_path / "home" / "source" / "project-nivel.key").exists()
