"""The stage-1 file (item 8 of issue 14): checked at the source, findings carried per row, no
identifier in the clear, recognised by the registry, and anything else refused."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import polars as pl
import pytest

from zorgbroker.intake.generate import generate
from zorgbroker.intake.service import check_file
from zorgbroker.intake.source_checks import source_checks
from zorgbroker.intake.spec.loader import load_dataset
from zorgbroker.pseudonymisation import source_file
from zorgbroker.pseudonymisation.custody import source_key
from zorgbroker.pseudonymisation.method import fingerprint
from zorgbroker.pseudonymisation.source_file import write_stage1_file
from zorgbroker.pseudonymisation.stage1_manifest import FINDINGS_COLUMN, MANIFEST_NAME, Manifest
from zorgbroker.pseudonymisation.stage1_reader import Stage1Refused, open_stage1_file
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

TODAY = dt.date(2026, 11, 22)


@pytest.fixture(scope="module")
def nhr_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nhr") / "export.csv"
    generate("nhr-pmicd", rows=400, out=out, error_rate=0.4, seed=3, today=TODAY)
    return out


@pytest.fixture(scope="module")
def fysio_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fysio") / "export.zip"
    generate("nivel-fysio", rows=150, out=out, error_rate=0.4, seed=5, today=TODAY)
    return out


def _stage1(export: Path, dataset: str, registry: str, home: Path, out: Path) -> Path:
    ttp = TrustedThirdParty(home)
    ttp.init()
    write_stage1_file(
        export,
        dataset,
        registry,
        out,
        key=source_key(home, registry),
        ttp_public_key=ttp.seal_public_key(),
        today=TODAY,
    )
    return out


def _members(path: Path) -> dict[str, pl.DataFrame]:
    with zipfile.ZipFile(path) as archive:
        return {
            name: pl.read_csv(io.BytesIO(archive.read(name)), separator=";", infer_schema=False)
            for name in archive.namelist()
            if name.endswith(".csv")
        }


def _manifest(path: Path) -> Manifest:
    with zipfile.ZipFile(path) as archive:
        return Manifest.from_json(archive.read(MANIFEST_NAME))


def test_source_checks_of_the_heart_registry() -> None:
    spec = load_dataset("nhr-pmicd")
    checks = source_checks(spec)["main"]
    assert checks.fields == {"bsn", "achternaam", "geboortedatum"}
    assert {code for field, code in checks.pairs if field != "bsn"} >= {"F-303", "W-301"}
    assert ("bsn", "F-301") in checks.pairs
    assert ("centrum_agb", "F-309") not in checks.pairs  # reads no identifier: the registry's
    assert checks.derived == {"leeftijd"}


def test_the_stage1_file_carries_the_source_findings_and_no_identifier(
    nhr_export: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    path = _stage1(nhr_export, "nhr-pmicd", "nhr", home, tmp_path / "stap1.zip")
    manifest = _manifest(path)
    assert manifest.method == "zb2" and manifest.registry == "nhr"
    assert manifest.source_key_fingerprint == fingerprint(source_key(home, "nhr"))
    assert manifest.dataset == "nhr-pmicd" and manifest.records == {"main": 400}
    report = check_file(nhr_export, "nhr-pmicd", today=TODAY).report
    assert manifest.file == report.file.as_json()

    table = _members(path)["main.csv"]
    assert "achternaam" not in table.columns
    carried = {
        (i + 1, token)
        for i, cell in enumerate(table[FINDINGS_COLUMN].to_list())
        for token in (cell or "").split()
    }
    pairs = source_checks(load_dataset("nhr-pmicd"))["main"].pairs
    expected = {
        (record, f"{field}={code}")
        for record, field, code in report.messages.select("record", "field", "code").rows()
        if (field, code) in pairs
    }
    assert carried == expected
    assert {token.split("=")[1] for _, token in carried} >= {"F-301", "F-303", "W-301"}

    raw = pl.read_csv(nhr_export, separator=";", infer_schema=False)
    # The pseudonyms are hex and the sealed BSNs random base64, where a short name can turn up
    # by chance: those columns are checked by their shape, everything else as text.
    assert table["bsn"].drop_nulls().str.contains("^[0-9a-f]{64}$").all()
    assert table["bsn_verzegeld"].drop_nulls().str.starts_with("zb1s.").all()
    plain = table.drop("bsn", "bsn_verzegeld")
    buffer = io.StringIO()
    plain.write_csv(buffer, separator=";")
    text = buffer.getvalue() + json.dumps(manifest.file)
    assert not any(bsn in text for bsn in raw["bsn"].drop_nulls().to_list() if len(bsn) >= 8)
    assert [n for n in raw["achternaam"].drop_nulls().to_list() if n in text] == []
    other_dates = set(raw.select(pl.exclude("geboortedatum")).unpivot()["value"].to_list())
    births = [d for d in raw["geboortedatum"].drop_nulls().to_list() if d not in other_dates]
    assert births and not any(birth in text for birth in births)


def test_the_registry_recognises_a_stage1_file(nhr_export: Path, tmp_path: Path) -> None:
    path = _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")
    opened = open_stage1_file(path, load_dataset("nhr-pmicd"), registry="nhr")
    assert opened.manifest.records == {"main": 400}


def test_a_multi_table_stage1_file(fysio_export: Path, tmp_path: Path) -> None:
    path = _stage1(fysio_export, "nivel-fysio", "nivel", tmp_path / "home", tmp_path / "s.zip")
    tables = _members(path)
    assert tables["therapeuten.csv"]["achternaam"].str.contains("^[0-9a-f]{64}$").all()
    assert "bsn_verzegeld" not in tables["patienten.csv"].columns  # nivel is not re-identifiable
    findings = tables["patienten.csv"][FINDINGS_COLUMN].drop_nulls().to_list()
    assert any("bsn=F-107" in cell for cell in findings)
    open_stage1_file(path, load_dataset("nivel-fysio"), registry="nivel")


def _refusal(path: Path, dataset: str = "nhr-pmicd", registry: str = "nhr") -> Stage1Refused:
    with pytest.raises(Stage1Refused) as caught:
        open_stage1_file(path, load_dataset(dataset), registry=registry)
    return caught.value


def test_a_raw_export_is_refused(nhr_export: Path) -> None:
    assert _refusal(nhr_export).code == "BF-020"


def test_a_zip_without_manifest_is_refused(tmp_path: Path, nhr_export: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(nhr_export, "main.csv")
    assert _refusal(path).code == "BF-020"


def _rewritten(path: Path, out: Path, change: object) -> Path:
    """A copy of a stage-1 file with its main table (and manifest) changed by `change`."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        manifest = json.loads(source.read(MANIFEST_NAME))
        table = pl.read_csv(io.BytesIO(source.read("main.csv")), separator=";", infer_schema=False)
        table, manifest = change(table, manifest)  # type: ignore[operator]
        target.writestr(MANIFEST_NAME, json.dumps(manifest))
        buffer = io.BytesIO()
        table.write_csv(buffer, separator=";")
        target.writestr("main.csv", buffer.getvalue())
    return out


def test_a_bsn_in_the_clear_is_refused_without_repeating_it(
    nhr_export: Path, tmp_path: Path
) -> None:
    good = _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")

    def clear_bsn(table: pl.DataFrame, manifest: dict[str, object]) -> object:
        bsn = pl.Series("bsn", ["123456782"] * table.height)
        return table.with_columns(bsn), manifest

    refused = _refusal(_rewritten(good, tmp_path / "bad.zip", clear_bsn))
    assert refused.code == "BF-021"
    assert "rij 1" in refused.detail and "bsn" in refused.detail
    assert "123456782" not in refused.detail


def test_a_name_column_is_refused(nhr_export: Path, tmp_path: Path) -> None:
    good = _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")

    def with_names(table: pl.DataFrame, manifest: dict[str, object]) -> object:
        return table.with_columns(pl.lit("Jansen").alias("achternaam")), manifest

    refused = _refusal(_rewritten(good, tmp_path / "bad.zip", with_names))
    assert refused.code == "BF-021" and "Jansen" not in refused.detail


def test_a_full_birth_date_is_refused(nhr_export: Path, tmp_path: Path) -> None:
    good = _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")

    def full_dates(table: pl.DataFrame, manifest: dict[str, object]) -> object:
        return table.with_columns(pl.lit("1950-06-15").alias("geboortedatum")), manifest

    assert _refusal(_rewritten(good, tmp_path / "bad.zip", full_dates)).code == "BF-021"


@pytest.mark.parametrize(
    ("key", "value"), [("method", "zb1"), ("dataset_version", "2020.1"), ("registry", "nivel")]
)
def test_a_stage1_file_of_another_method_version_or_registry_is_refused(
    nhr_export: Path, tmp_path: Path, key: str, value: str
) -> None:
    good = _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")

    def other(table: pl.DataFrame, manifest: dict[str, object]) -> object:
        return table, {**manifest, key: value}

    assert _refusal(_rewritten(good, tmp_path / "bad.zip", other)).code == "BF-022"


def test_made_up_findings_are_refused(nhr_export: Path, tmp_path: Path) -> None:
    good = _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")

    def made_up(table: pl.DataFrame, manifest: dict[str, object]) -> object:
        return table.with_columns(pl.lit("centrum_agb=F-309").alias(FINDINGS_COLUMN)), manifest

    assert _refusal(_rewritten(good, tmp_path / "bad.zip", made_up)).code == "BF-022"


def test_a_refused_export_travels_as_its_messages_only(tmp_path: Path) -> None:
    export = tmp_path / "leeg.csv"
    export.write_text("iets;anders\n1;2\n", encoding="utf-8")
    path = _stage1(export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")
    manifest = _manifest(path)
    report = check_file(export, "nhr-pmicd", today=TODAY).report
    assert manifest.refused and not manifest.members
    assert [m.code for m in manifest.file_messages] == report.messages["code"].to_list()
    assert zipfile.ZipFile(path).namelist() == [MANIFEST_NAME]
    assert open_stage1_file(path, load_dataset("nhr-pmicd"), registry="nhr").manifest.refused


def test_an_interrupted_write_leaves_no_file(
    nhr_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(source_file, "stage1_frame", broken)
    out = tmp_path / "out" / "stap1.zip"
    out.parent.mkdir()
    with pytest.raises(KeyboardInterrupt):
        _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", out)
    assert list(out.parent.iterdir()) == []


def test_the_unpacked_tables_are_removed_after_the_check(nhr_export: Path, tmp_path: Path) -> None:
    from zorgbroker.pseudonymisation.stage1_reader import opened_stage1_file

    path = _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")
    with opened_stage1_file(path, load_dataset("nhr-pmicd"), registry="nhr") as tables:
        folder = tables.members["main"].parent
        assert folder.is_dir()
    assert not folder.exists()


def test_a_refused_file_leaves_no_unpacked_table(
    nhr_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    good = _stage1(nhr_export, "nhr-pmicd", "nhr", tmp_path / "home", tmp_path / "stap1.zip")

    def clear_bsn(table: pl.DataFrame, manifest: dict[str, object]) -> object:
        return table.with_columns(pl.lit("123456782").alias("bsn")), manifest

    bad = _rewritten(good, tmp_path / "bad.zip", clear_bsn)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert _refusal(bad).code == "BF-021"
    assert list(scratch.iterdir()) == []
