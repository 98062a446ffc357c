"""Generated nhr-pmicd files: clean ones keep every rule, faulty ones break what they list."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from stdnum import ean
from stdnum.nl import bsn

from tests.intake.generate.conftest import TODAY, header, read_csv
from zorgbroker.intake.generate import Generated, generate
from zorgbroker.intake.generate.message_fields import MESSAGE_FIELDS

ROWS = 10_000
SEED = 11

SPEC_COLUMNS = [
    "centrum_agb", "bsn", "achternaam", "geboortedatum", "geslacht", "procedure_datum",
    "procedure_type", "device_type", "indicatie", "fabrikant", "udi_di", "serienummer",
    "aantal_leads", "lead1_positie", "lead2_positie", "lead3_positie", "lead4_positie",
    "lead1_serienummer", "lead2_serienummer", "lead3_serienummer", "lead4_serienummer",
    "opname_datum", "ontslag_datum", "complicatie_30d", "complicatie_type", "operateur_big",
    "overlijdensdatum",
]  # fmt: skip
DATES = ["geboortedatum", "procedure_datum", "opname_datum", "ontslag_datum", "overlijdensdatum"]
POSITIONS = [f"lead{i}_positie" for i in range(1, 5)]
LEAD_SERIALS = [f"lead{i}_serienummer" for i in range(1, 5)]
DEVICES = {"PM-SC", "PM-DC", "CRT-P", "ICD-SC", "ICD-DC", "CRT-D", "S-ICD", "LEADLESS"}
MANUFACTURERS = {"MDT", "ABT", "BSC", "BIO", "MPS", "OTH"}
SEXES = {"M", "V", "X", "O"}


def lead_count_impossible(row: dict[str, object]) -> bool:
    device, n, first = row["device_type"], row["n"], row["procedure_type"] == "1"
    positions = [row[p] for p in POSITIONS]
    if device == "LEADLESS":
        return n != 0
    if device == "S-ICD":
        return n != 1 or row["lead1_positie"] != "SUBQ"
    if device in ("PM-DC", "ICD-DC"):
        return first and n < 2  # type: ignore[operator]
    return first and ("LV" not in positions and "HIS" not in positions)


def typed(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates as dates, the lead count as a number, and the age at procedure in whole years."""
    frame = frame.with_columns(
        *[pl.col(c).str.to_date("%Y-%m-%d", strict=False) for c in DATES],
        pl.col("aantal_leads").cast(pl.Int64, strict=False).alias("n"),
    )
    birth, at = pl.col("geboortedatum"), pl.col("procedure_datum")
    had_birthday = (at.dt.month() > birth.dt.month()) | (
        (at.dt.month() == birth.dt.month()) & (at.dt.day() >= birth.dt.day())
    )
    age = at.dt.year() - birth.dt.year() - pl.when(had_birthday).then(0).otherwise(1)
    return frame.with_columns(age.alias("age"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Generated, pl.DataFrame]:
    out = tmp_path_factory.mktemp("nhr") / "nhr.csv"
    generated = generate("nhr-pmicd", rows=ROWS, out=out, seed=SEED, today=TODAY)
    return generated, read_csv(out)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Generated, pl.DataFrame]:
    out = tmp_path_factory.mktemp("nhr") / "nhr-faulty.csv"
    generated = generate("nhr-pmicd", rows=ROWS, out=out, seed=SEED, error_rate=0.1, today=TODAY)
    return generated, read_csv(out)


def test_clean_file_has_the_specified_header_and_rows_and_expects_nothing(
    clean: tuple[Generated, pl.DataFrame],
) -> None:
    generated, frame = clean
    assert header(generated.path) == SPEC_COLUMNS
    assert frame.height == ROWS == generated.rows
    assert generated.expected == []
    assert generated.organisation == "01234567"
    assert frame["centrum_agb"].unique().to_list() == ["01234567"]


def test_every_bsn_passes_the_eleven_test_and_belongs_to_one_patient(
    clean: tuple[Generated, pl.DataFrame],
) -> None:
    numbers = clean[1]["bsn"].to_list()
    assert all(len(n) == 9 and bsn.is_valid(n) for n in numbers)
    assert len(set(numbers)) == ROWS


def test_udi_di_is_a_valid_gtin14_exactly_where_the_procedure_type_needs_one(
    clean: tuple[Generated, pl.DataFrame],
) -> None:
    frame = clean[1]
    needs = frame["procedure_type"].is_in(["1", "2", "3"])
    assert (frame["udi_di"].is_not_null() == needs).all()
    assert all(len(u) == 14 and ean.is_valid(u) for u in frame["udi_di"].drop_nulls().to_list())


def test_serial_numbers_are_unique_across_the_file_and_well_formed(
    clean: tuple[Generated, pl.DataFrame],
) -> None:
    frame = clean[1]
    serials = pl.concat([frame[c] for c in ["serienummer", *LEAD_SERIALS]]).drop_nulls()
    assert serials.n_unique() == serials.len()
    assert serials.str.contains(r"^[A-Za-z0-9]{4,30}$").all()
    needs = frame["procedure_type"].is_in(["1", "2", "3", "5"])
    assert (frame["serienummer"].is_not_null() == needs).all()


def test_dates_are_recent_and_consistent(clean: tuple[Generated, pl.DataFrame]) -> None:
    frame = typed(clean[1])
    procedure = frame["procedure_datum"]
    # Never in the future, never more than a month before the upload (W-304).
    assert procedure.max() <= TODAY - dt.timedelta(days=1)  # type: ignore[operator]
    assert procedure.min() >= TODAY - dt.timedelta(days=27)  # type: ignore[operator]
    admitted = frame.filter(pl.col("opname_datum").is_not_null())
    assert admitted["ontslag_datum"].null_count() == 0
    assert (admitted["opname_datum"] <= admitted["procedure_datum"]).all()
    assert (admitted["procedure_datum"] <= admitted["ontslag_datum"]).all()
    assert (admitted["ontslag_datum"] <= TODAY).all()
    assert 0.8 < admitted.height / ROWS < 1.0
    died = frame.filter(pl.col("overlijdensdatum").is_not_null())
    assert (died["overlijdensdatum"] >= died["procedure_datum"]).all()


def test_patients_are_adults_mostly_between_60_and_90(
    clean: tuple[Generated, pl.DataFrame],
) -> None:
    age = typed(clean[1])["age"]
    assert age.min() >= 18  # type: ignore[operator]
    assert age.max() <= 100  # type: ignore[operator]
    assert ((age >= 60) & (age <= 90)).mean() > 0.6  # type: ignore[operator]


def test_leads_fit_the_device(clean: tuple[Generated, pl.DataFrame]) -> None:
    frame = typed(clean[1])
    device, first = pl.col("device_type"), pl.col("procedure_type") == "1"
    positions = pl.concat_list(POSITIONS)
    assert frame.filter((device == "LEADLESS") & (pl.col("n") != 0)).height == 0
    s_icd = frame.filter(device == "S-ICD")
    assert ((s_icd["n"] == 1) & (s_icd["lead1_positie"] == "SUBQ")).all()
    dual = frame.filter(first & device.is_in(["PM-DC", "ICD-DC"]))
    assert (dual["n"] >= 2).all()
    crt = frame.filter(first & device.is_in(["CRT-P", "CRT-D"]))
    assert (crt["n"] >= 2).all()
    assert crt.select((positions.list.contains("LV") | positions.list.contains("HIS")).all()).item()
    for i, (position, serial) in enumerate(zip(POSITIONS, LEAD_SERIALS, strict=True), start=1):
        within = frame["n"] >= i
        assert (frame[position].is_not_null() == within).all()
        assert (frame[serial].is_not_null() == within).all()
    assert set(frame["n"].unique().to_list()) == {0, 1, 2, 3, 4}


def test_codes_come_from_their_lists(clean: tuple[Generated, pl.DataFrame]) -> None:
    frame = clean[1]
    assert set(frame["geslacht"].unique().to_list()) <= SEXES
    assert set(frame["device_type"].unique().to_list()) == DEVICES
    assert set(frame["fabrikant"].drop_nulls().unique().to_list()) <= MANUFACTURERS
    assert (frame["fabrikant"].is_null() == (frame["procedure_type"] == "4")).all()
    needs_indication = frame["procedure_type"].is_in(["1", "3"])
    assert frame.filter(needs_indication)["indicatie"].null_count() == 0
    complication = frame["complicatie_30d"] == "J"
    assert (frame["complicatie_type"].is_not_null() == complication).all()
    assert frame["operateur_big"].str.contains(r"^\d{11}$").all()


def test_surnames_look_dutch(clean: tuple[Generated, pl.DataFrame]) -> None:
    names = set(clean[1]["achternaam"].drop_nulls().to_list())
    assert any(name.startswith(("van ", "de ")) for name in names)
    assert any(not name.isascii() for name in names)
    assert any("-" in name for name in names)


def test_no_two_rows_are_identical(clean: tuple[Generated, pl.DataFrame]) -> None:
    assert not clean[1].is_duplicated().any()


def test_same_seed_gives_the_same_file_and_another_seed_another(tmp_path: Path) -> None:
    first = generate("nhr-pmicd", rows=500, out=tmp_path / "a.csv", seed=3, today=TODAY)
    again = generate("nhr-pmicd", rows=500, out=tmp_path / "b.csv", seed=3, today=TODAY)
    other = generate("nhr-pmicd", rows=500, out=tmp_path / "c.csv", seed=4, today=TODAY)
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.path.read_bytes() != other.path.read_bytes()


def test_organisation_is_written_into_every_row(tmp_path: Path) -> None:
    generated = generate(
        "nhr-pmicd", rows=50, out=tmp_path / "x.csv", organisation="06123456", today=TODAY
    )
    assert generated.organisation == "06123456"
    assert read_csv(generated.path)["centrum_agb"].unique().to_list() == ["06123456"]


def test_about_the_error_rate_of_the_records_get_one_fault_each(
    faulty: tuple[Generated, pl.DataFrame],
) -> None:
    generated, _ = faulty
    records = [e.record for e in generated.expected]
    assert 850 <= len(records) <= 1150
    assert len(set(records)) == len(records)  # one fault, one message per record
    assert min(records) >= 1
    assert max(records) <= ROWS
    assert all(e.table is None for e in generated.expected)


def test_faults_cover_the_dataset_codes_and_name_the_documented_fields(
    faulty: tuple[Generated, pl.DataFrame],
) -> None:
    expected = faulty[0].expected
    codes = Counter(e.code for e in expected)
    dataset_codes = set(MESSAGE_FIELDS["nhr-pmicd"])
    generic_codes = {"F-001", "F-002", "F-003", "F-004", "F-005"}
    assert set(codes) == dataset_codes | generic_codes
    for e in expected:
        if e.code in MESSAGE_FIELDS["nhr-pmicd"]:
            assert e.field in MESSAGE_FIELDS["nhr-pmicd"][e.code]


def test_a_fault_changes_its_own_record_only(
    clean: tuple[Generated, pl.DataFrame], faulty: tuple[Generated, pl.DataFrame]
) -> None:
    faulted = sorted(e.record - 1 for e in faulty[0].expected)
    untouched = pl.Series(sorted(set(range(ROWS)) - set(faulted)))
    assert faulty[1][untouched].equals(clean[1][untouched])
    changed = ~pl.concat([faulty[1][faulted], clean[1][faulted]]).is_duplicated()
    assert changed.all()


def test_each_fault_breaks_what_its_message_says(faulty: tuple[Generated, pl.DataFrame]) -> None:
    generated, frame = faulty
    rows = typed(frame).with_row_index("record", offset=1)
    by_record = {e.record: e for e in generated.expected}
    checks = 0
    for row in rows.filter(pl.col("record").is_in(list(by_record))).iter_rows(named=True):
        e = by_record[row["record"]]
        assert e.field is not None
        value: Any = row[e.field]
        match e.code:
            case "F-001":
                assert value is None
            case "F-002":
                assert value is not None and not value.isdigit()
            case "F-003":
                assert value not in SEXES | MANUFACTURERS
            case "F-004":
                assert int(value) > 4
            case "F-005":
                assert len(value) > 30
            case "F-301":
                assert not bsn.is_valid(value)
            case "F-302":
                assert row["procedure_datum"] > TODAY
            case "F-304":
                assert lead_count_impossible(row)
            case "F-305":
                assert (value is None) == (int(e.field[4]) <= row["n"])
            case "F-306":
                assert not ean.is_valid(value)
            case "F-307":
                assert value is None and row["procedure_type"] in "1235"
            case "F-303":
                assert TODAY >= row["geboortedatum"] > row["procedure_datum"]
            case "F-308" if e.field == "ontslag_datum":
                assert row["ontslag_datum"] < row["opname_datum"]
            case "F-308":
                assert row["overlijdensdatum"] < row["procedure_datum"]
            case "F-309":
                assert value != generated.organisation
            case "W-301":
                assert row["age"] < 18 or row["age"] > 100
            case "W-302":
                assert not row["opname_datum"] <= row["procedure_datum"] <= row["ontslag_datum"]
            case "W-303":
                assert value is not None and row["complicatie_30d"] != "J"
            case "W-304":
                assert row["procedure_datum"] < TODAY - dt.timedelta(days=31)
            case _:
                pytest.fail(f"unexpected code {e.code}")
        checks += 1
    assert checks == len(generated.expected)


def test_expected_messages_are_written_beside_the_file_only_when_asked(tmp_path: Path) -> None:
    quiet = generate("nhr-pmicd", rows=200, out=tmp_path / "q.csv", error_rate=0.2, today=TODAY)
    assert not (tmp_path / "q.csv.expected.json").exists()
    loud = generate(
        "nhr-pmicd",
        rows=200,
        out=tmp_path / "l.csv",
        error_rate=0.2,
        today=TODAY,
        write_expected=True,
    )
    document = json.loads((tmp_path / "l.csv.expected.json").read_text(encoding="utf-8"))
    assert document["dataset"] == "nhr-pmicd"
    assert document["organisation"] == loud.organisation
    assert document["today"] == TODAY.isoformat()
    listed = [(m["table"], m["record"], m["field"], m["code"]) for m in document["expected"]]
    assert listed == [(e.table, e.record, e.field, e.code) for e in loud.expected]
    assert len(quiet.expected) > 0
