"""The registry's check of a stage-1 file gives the report a check of the raw export gives (the
same messages in the same order, records, rejected records and file), and the same rows to
import, while the registry never reads an identifier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from zorgbroker.intake.api import CheckOptions, check_stage1, check_upload, generate, load_dataset
from zorgbroker.pseudonymisation.pipeline import Pseudonymiser
from zorgbroker.pseudonymisation.relay import Stage1Relay
from zorgbroker.pseudonymisation.source_side import make_stage1
from zorgbroker.pseudonymisation.stage1_reader import opened_stage1_file
from zorgbroker.pseudonymisation.ttp import TrustedThirdParty

TODAY = dt.date(2026, 11, 22)
ORGANISATION = {"nhr-pmicd": "01234567", "nivel-fysio": None, "parabench-mi": None}

CASES = [
    ("nhr-pmicd", "csv", 500),
    ("nhr-pmicd", "xlsx", 80),
    ("nivel-fysio", "zip", 120),
    ("parabench-mi", "csv", 4),
]


def _reports(export: Path, dataset: str, home: Path, tmp_path: Path, organisation: str | None):
    spec = load_dataset(dataset)
    options = CheckOptions(today=TODAY, organisation=organisation, mode="test")
    raw = check_upload(export, spec, options)
    made = make_stage1(
        export,
        dataset,
        tmp_path / "stap1.zip",
        mode="test",
        home=home,
        organisation=organisation,
        today=TODAY,
    )
    with opened_stage1_file(made.path, spec, registry=spec.registry) as tables:
        stage1 = check_stage1(spec, tables.check_input(), options)
    return raw.report, stage1.report


@pytest.mark.parametrize(("dataset", "ext", "rows"), CASES)
@pytest.mark.parametrize("error_rate", [0.0, 0.6])
def test_the_report_of_a_stage1_file_equals_the_raw_exports(
    tmp_path: Path, dataset: str, ext: str, rows: int, error_rate: float
) -> None:
    export = tmp_path / f"export.{ext}"
    made = generate(dataset, rows=rows, out=export, error_rate=error_rate, seed=17, today=TODAY)
    raw, stage1 = _reports(export, dataset, tmp_path / "home", tmp_path, made.organisation)
    assert_frame_equal(stage1.messages, raw.messages)
    assert (stage1.records, stage1.rejected, stage1.file_rejected) == (
        raw.records,
        raw.rejected,
        raw.file_rejected,
    )
    assert stage1.file == raw.file
    assert stage1.code_texts == raw.code_texts
    if error_rate:
        assert raw.messages.height > 0
    if error_rate and dataset == "nhr-pmicd":  # source findings took part
        assert {"F-301", "F-303", "W-301"} <= set(raw.messages["code"].to_list())


def test_file_level_messages_of_the_export_are_carried(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    made = generate("nhr-pmicd", rows=30, out=export, seed=2, today=TODAY)
    lines = export.read_text(encoding="utf-8").splitlines()
    # An extra column (BW-001) and a row sent twice (BW-003): only the source can see them.
    lines = [lines[0] + ";opmerking"] + [line + ";x" for line in lines[1:]] + [lines[5] + ";x"]
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw, stage1 = _reports(export, "nhr-pmicd", tmp_path / "home", tmp_path, made.organisation)
    assert {"BW-001", "BW-003"} <= set(raw.messages["code"].to_list())
    assert_frame_equal(stage1.messages, raw.messages)


def test_a_refused_export_gives_the_same_refusal(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("centrum_agb;iets\n01234567;1\n", encoding="utf-8")
    raw, stage1 = _reports(export, "nhr-pmicd", tmp_path / "home", tmp_path, None)
    assert raw.file_rejected and stage1.file_rejected
    assert_frame_equal(stage1.messages, raw.messages)
    assert (stage1.records, stage1.rejected) == (raw.records, raw.rejected)


def test_an_export_a_registry_file_rule_refuses_is_refused_by_the_registry(
    tmp_path: Path,
) -> None:
    """File rules are the registry's to compute: the stage-1 file carries the tables, not the
    refusal, so the registry's report holds the rule's message and rejects the file."""
    export = tmp_path / "export.csv"
    generate("parabench-mi", rows=4, out=export, seed=3, today=TODAY)
    lines = export.read_text(encoding="utf-8").splitlines()
    # jaar_afgesloten J on three rows and N on one: BF-204.
    lines[2] = lines[2].replace(";J;", ";N;", 1)
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw, stage1 = _reports(export, "parabench-mi", tmp_path / "home", tmp_path, None)
    assert raw.file_rejected and "BF-204" in raw.messages["code"].to_list()
    assert stage1.file_rejected
    assert_frame_equal(stage1.messages, raw.messages)
    assert (stage1.records, stage1.rejected) == (raw.records, raw.rejected)


@pytest.mark.parametrize("dataset", ["nhr-pmicd", "nivel-fysio"])
def test_the_accepted_rows_equal_the_embedded_pipelines(tmp_path: Path, dataset: str) -> None:
    """What the registry would import from a stage-1 file (relayed through the TTP) equals what
    it imports today from the raw export (pseudonymised in process)."""
    home = tmp_path / "home"
    TrustedThirdParty(home).init()
    export = tmp_path / ("export.zip" if dataset == "nivel-fysio" else "export.csv")
    made = generate(dataset, rows=150, out=export, error_rate=0.3, seed=23, today=TODAY)
    spec = load_dataset(dataset)
    direct = Pseudonymiser.for_mode("production", registry=spec.registry, source="1", home=home)
    bsn_fields = {f.name for t in spec.tables for f in t.fields if f.normalise == "bsn"}

    def pseudonymise(table: str, field: str, values: pl.Series) -> pl.Series:
        if field in bsn_fields:
            return direct.pseudonymise(values)
        return direct.pseudonymise_text(values, label=field)

    options = CheckOptions(
        today=TODAY,
        organisation=made.organisation,
        mode="production",
        collect_accepted=True,
        pseudonymise=pseudonymise,
    )
    raw = check_upload(export, spec, options)
    stage1_file = make_stage1(
        export,
        dataset,
        tmp_path / "stap1.zip",
        mode="production",
        home=home,
        organisation=made.organisation,
        today=TODAY,
    )
    relay = Stage1Relay.for_mode(
        "production",
        registry=spec.registry,
        source="1",
        source_key_fingerprint=stage1_file.source_key_fingerprint,
        home=home,
    )
    relayed_options = CheckOptions(
        today=TODAY,
        organisation=made.organisation,
        mode="production",
        collect_accepted=True,
        relay=relay.pseudonymise_field,
    )
    with opened_stage1_file(stage1_file.path, spec, registry=spec.registry) as tables:
        via_stage1 = check_stage1(spec, tables.check_input(), relayed_options)
    assert_frame_equal(via_stage1.report.messages, raw.report.messages)
    assert via_stage1.accepted.keys() == raw.accepted.keys()
    for name, frame in raw.accepted.items():
        assert frame.height > 0
        assert_frame_equal(via_stage1.accepted[name], frame)


def test_the_registry_refuses_a_raw_export_with_a_report(tmp_path: Path) -> None:
    from zorgbroker.pseudonymisation.registry_side import check_stage1_file

    export = tmp_path / "export.csv"
    generate("nhr-pmicd", rows=10, out=export, seed=1, today=TODAY)
    spec = load_dataset("nhr-pmicd")
    outcome = check_stage1_file(
        export, spec, CheckOptions(today=TODAY, mode="production"), "export.csv"
    )
    report = outcome.report
    assert report.file_rejected and report.records == 0 and not outcome.accepted
    assert report.messages["code"].to_list() == ["BF-020"]
    assert report.file.name == "export.csv"
    bsns = pl.read_csv(export, separator=";", infer_schema=False)["bsn"].to_list()
    assert not any(b in (report.messages["value"][0] or "") for b in bsns)


def test_the_registry_checks_a_stage1_file_through_one_call(tmp_path: Path) -> None:
    from zorgbroker.pseudonymisation.registry_side import check_stage1_file

    export = tmp_path / "export.csv"
    made = generate("nhr-pmicd", rows=50, out=export, error_rate=0.5, seed=4, today=TODAY)
    spec = load_dataset("nhr-pmicd")
    options = CheckOptions(today=TODAY, organisation=made.organisation, mode="test")
    stage1 = make_stage1(
        export, "nhr-pmicd", tmp_path / "s.zip", mode="test", home=tmp_path, today=TODAY
    )
    got = check_stage1_file(stage1.path, spec, options).report
    assert_frame_equal(got.messages, check_upload(export, spec, options).report.messages)


def test_blank_rows_keep_their_record_numbers(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    made = generate("nhr-pmicd", rows=40, out=export, error_rate=0.5, seed=8, today=TODAY)
    lines = export.read_text(encoding="utf-8").splitlines()
    blank = ";" * (lines[0].count(";"))
    # A blank row halfway (a record with missing values) and blank rows at the end (no records).
    lines = [*lines[:10], blank, *lines[10:], blank, "", blank]
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    raw, stage1 = _reports(export, "nhr-pmicd", tmp_path / "home", tmp_path, made.organisation)
    assert raw.records == 41
    assert_frame_equal(stage1.messages, raw.messages)
    assert (stage1.records, stage1.rejected) == (raw.records, raw.rejected)
