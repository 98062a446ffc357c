"""Generated nivel-fysio archives: five consistent tables; faults listed with their cascades."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from stdnum.nl import bsn

from tests.intake.generate.conftest import TODAY, header, read_zip
from zorgbroker.intake.generate import Expected, Generated, generate
from zorgbroker.intake.generate.message_fields import MESSAGE_FIELDS

ROWS = 10_000
SEED = 5

SPEC_HEADERS = {
    "praktijk": [
        "praktijk_agb", "praktijk_naam", "postcode4", "extractie_datum", "periode_van",
        "periode_tot", "software",
    ],
    "therapeuten": [
        "therapeut_id", "achternaam", "geboortedatum", "geslacht", "zvl_soort", "zvl_nummer",
        "big_nummer", "deelname",
    ],
    "patienten": [
        "patient_id", "bsn", "geboortedatum", "geslacht", "postcode4", "verzekeraar_uzovi",
        "toestemming",
    ],
    "episodes": [
        "episode_id", "patient_id", "therapeut_id", "startdatum", "einddatum", "verwijzing",
        "dcsph", "chronisch", "screening_uitkomst",
    ],
    "verrichtingen": [
        "episode_id", "datum", "soort", "therapeut_id", "prestatiecode", "instrument", "score",
    ],
}  # fmt: skip
SCORE_RANGES = {"NPRS": (0, 10), "QBPDS": (0, 100), "PSK": (0, 10), "NDI": (0, 50), "GPE": (1, 7)}
Tables = dict[str, pl.DataFrame]


def as_date(column: str) -> pl.Expr:
    return pl.col(column).str.to_date("%Y-%m-%d", strict=False)


def with_episodes(tables: Tables) -> pl.DataFrame:
    """Treatments joined with their episode's dates."""
    episodes = tables["episodes"].select(
        "episode_id", as_date("startdatum").alias("start"), as_date("einddatum").alias("end")
    )
    return (
        tables["verrichtingen"]
        .with_columns(as_date("datum").alias("day"))
        .join(episodes, on="episode_id", how="left")
    )


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Generated, Tables]:
    out = tmp_path_factory.mktemp("nivel") / "nivel.zip"
    generated = generate("nivel-fysio", rows=ROWS, out=out, seed=SEED, today=TODAY)
    return generated, read_zip(out)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Generated, Tables]:
    out = tmp_path_factory.mktemp("nivel") / "nivel-faulty.zip"
    generated = generate("nivel-fysio", rows=ROWS, out=out, seed=SEED, error_rate=0.1, today=TODAY)
    return generated, read_zip(out)


def test_archive_holds_the_five_tables_with_their_headers(
    clean: tuple[Generated, Tables],
) -> None:
    generated, tables = clean
    with zipfile.ZipFile(generated.path) as archive:
        assert archive.namelist() == [f"{name}.csv" for name in SPEC_HEADERS]
        for name, columns in SPEC_HEADERS.items():
            assert header(archive.read(f"{name}.csv")) == columns
    assert tables["episodes"].height == ROWS == generated.rows
    assert generated.expected == []


def test_practice_row_describes_a_two_month_extraction(clean: tuple[Generated, Tables]) -> None:
    generated, tables = clean
    practice = tables["praktijk"].with_columns(
        as_date("extractie_datum"), as_date("periode_van"), as_date("periode_tot")
    )
    assert practice.height == 1
    row = practice.row(0, named=True)
    assert row["praktijk_agb"] == generated.organisation == "04012345"
    assert row["extractie_datum"] <= TODAY
    assert row["periode_van"] <= row["periode_tot"] <= row["extractie_datum"]
    assert (row["periode_tot"] - row["periode_van"]).days <= 62
    assert 1000 <= int(row["postcode4"]) <= 9999


def test_references_resolve_and_nobody_is_left_over(clean: tuple[Generated, Tables]) -> None:
    tables = clean[1]
    patients = set(tables["patienten"]["patient_id"].to_list())
    therapists = set(tables["therapeuten"]["therapeut_id"].to_list())
    episodes = tables["episodes"]
    assert set(episodes["patient_id"].to_list()) == patients
    assert set(episodes["therapeut_id"].to_list()) <= therapists
    assert set(tables["verrichtingen"]["therapeut_id"].to_list()) <= therapists
    assert set(tables["verrichtingen"]["episode_id"].to_list()) == set(episodes["episode_id"])
    assert 0.6 * ROWS < len(patients) < 0.95 * ROWS
    for name, key in (("therapeuten", "therapeut_id"), ("patienten", "patient_id")):
        assert tables[name][key].n_unique() == tables[name].height
    assert episodes["episode_id"].n_unique() == ROWS


def test_everyone_consented_and_identifiers_are_well_formed(
    clean: tuple[Generated, Tables],
) -> None:
    tables = clean[1]
    patients, therapists = tables["patienten"], tables["therapeuten"]
    assert patients["toestemming"].unique().to_list() == ["toestemming"]
    assert therapists["deelname"].unique().to_list() == ["toestemming"]
    numbers = patients["bsn"].to_list()
    assert all(bsn.is_valid(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert therapists["big_nummer"].str.contains(r"^\d{11}$").all()
    assert therapists["zvl_nummer"].str.contains(r"^\d{8}$").all()
    assert set(therapists["zvl_soort"].to_list()) <= {"01", "02", "03"}
    assert set(patients["geslacht"].to_list()) <= {"M", "V", "X", "O"}


def test_episodes_keep_their_rules(clean: tuple[Generated, Tables]) -> None:
    episodes = clean[1]["episodes"].with_columns(as_date("startdatum"), as_date("einddatum"))
    assert (episodes["startdatum"] <= TODAY).all()
    closed = episodes.filter(pl.col("einddatum").is_not_null())
    assert (closed["einddatum"] >= closed["startdatum"]).all()
    still_open = episodes.filter(pl.col("einddatum").is_null())
    assert still_open.height > 0
    assert (still_open["startdatum"] >= TODAY - dt.timedelta(days=365)).all()
    direct = episodes["verwijzing"] == "DTF"
    assert (episodes["screening_uitkomst"].is_not_null() == direct).all()
    assert episodes["dcsph"].str.contains(r"^\d{4}$").all()
    assert set(episodes["chronisch"].to_list()) == {"J", "N"}


def test_treatments_fit_their_episode(clean: tuple[Generated, Tables]) -> None:
    treatments = with_episodes(clean[1])
    per_episode = treatments.group_by("episode_id").agg(
        pl.len().alias("rows"), (pl.col("soort") == "M").sum().alias("measurements")
    )
    assert per_episode["rows"].min() >= 3  # type: ignore[operator]
    assert per_episode["rows"].max() <= 15  # type: ignore[operator]
    assert (per_episode["measurements"] >= 1).all()
    assert (treatments["day"] >= treatments["start"]).all()
    closed = treatments.filter(pl.col("end").is_not_null())
    assert (closed["day"] <= closed["end"]).all()
    assert (treatments["day"] <= TODAY).all()
    session = treatments["soort"] == "B"
    assert (treatments["prestatiecode"].is_not_null() == session).all()
    assert (treatments["instrument"].is_not_null() == ~session).all()
    scored = ~session & (treatments["instrument"] != "998")
    assert (treatments["score"].is_not_null() == scored).all()
    for instrument, (low, high) in SCORE_RANGES.items():
        scores = treatments.filter(pl.col("instrument") == instrument)["score"].cast(pl.Int64)
        assert scores.min() >= low  # type: ignore[operator]
        assert scores.max() <= high  # type: ignore[operator]


def test_no_table_repeats_a_row(clean: tuple[Generated, Tables]) -> None:
    for frame in clean[1].values():
        assert not frame.is_duplicated().any()


def test_same_seed_gives_the_same_archive(tmp_path: Path) -> None:
    def tables(name: str, seed: int) -> Tables:
        out = tmp_path / name
        generate("nivel-fysio", rows=300, out=out, seed=seed, error_rate=0.2, today=TODAY)
        return read_zip(out)

    first, again, other = tables("a.zip", 1), tables("b.zip", 1), tables("c.zip", 2)
    assert all(first[name].equals(again[name]) for name in SPEC_HEADERS)
    assert not first["patienten"].equals(other["patienten"])


CASCADING = {("patienten", "F-102"), ("patienten", "F-107"), ("therapeuten", "F-102"),
             ("therapeuten", "F-103")}  # fmt: skip


def fault_count(expected: list[Expected]) -> int:
    """Faults, not messages: a rejected patient or therapist also lists its episode's F-101."""
    cascades = sum((e.table, e.code) in CASCADING for e in expected)
    return len(expected) - cascades


def test_about_the_error_rate_of_the_episodes_get_one_fault_each(
    faulty: tuple[Generated, Tables],
) -> None:
    generated, _ = faulty
    assert 850 <= fault_count(generated.expected) <= 1150
    keys = [(e.table, e.record, e.field) for e in generated.expected]
    assert len(set(keys)) == len(keys)


def test_faults_cover_the_dataset_codes_and_name_the_documented_fields(
    faulty: tuple[Generated, Tables],
) -> None:
    expected = faulty[0].expected
    assert set(Counter(e.code for e in expected)) == set(MESSAGE_FIELDS["nivel-fysio"]) | {
        "F-001",
        "F-002",
        "F-003",
    }
    for e in expected:
        if e.code in MESSAGE_FIELDS["nivel-fysio"]:
            assert f"{e.table}.{e.field}" in MESSAGE_FIELDS["nivel-fysio"][e.code]


def test_a_rejected_patient_or_therapist_lists_the_f101_of_its_one_episode(
    faulty: tuple[Generated, Tables],
) -> None:
    generated, tables = faulty
    listed = {(e.table, e.record, e.field, e.code) for e in generated.expected}
    episodes = tables["episodes"].with_row_index("record", offset=1)
    cascades = 0
    for table, key, field in (
        ("patienten", "patient_id", "patient_id"),
        ("therapeuten", "therapeut_id", "therapeut_id"),
    ):
        rows = tables[table].with_row_index("record", offset=1)
        for e in generated.expected:
            if e.table != table or (table, e.code) not in CASCADING:
                continue
            identifier = rows.filter(pl.col("record") == e.record)[key].item()
            dependants = episodes.filter(pl.col(field) == identifier)
            assert dependants.height == 1
            assert ("episodes", dependants["record"].item(), field, "F-101") in listed
            if table == "therapeuten":
                assert identifier not in set(tables["verrichtingen"]["therapeut_id"].to_list())
            cascades += 1
    assert cascades > 0


def test_each_fault_breaks_what_its_message_says(faulty: tuple[Generated, Tables]) -> None:
    generated, tables = faulty
    numbered = {name: frame.with_row_index("record", offset=1) for name, frame in tables.items()}
    patients = set(tables["patienten"]["patient_id"].to_list())
    therapists = set(tables["therapeuten"]["therapeut_id"].to_list())
    episode_ids = set(tables["episodes"]["episode_id"].to_list())
    treatments = with_episodes(tables).with_row_index("record", offset=1)
    measured = set(
        tables["verrichtingen"].filter(pl.col("soort") == "M")["episode_id"].unique().to_list()
    )

    def rejected(table: str, key: str) -> set[str]:
        records = [
            e.record
            for e in generated.expected
            if e.table == table and (e.table, e.code) in CASCADING
        ]
        chosen = numbered[table].filter(pl.col("record").is_in(records))
        return set(chosen[key].to_list())

    # A reference to a rejected patient or therapist is as broken as one to nobody.
    valid_patients = patients - rejected("patienten", "patient_id")
    valid_therapists = therapists - rejected("therapeuten", "therapeut_id")
    for e in generated.expected:
        assert e.table is not None and e.field is not None
        frame = treatments if e.table == "verrichtingen" else numbered[e.table]
        row = frame.filter(pl.col("record") == e.record).row(0, named=True)
        value = row[e.field]
        match (e.table, e.field, e.code):
            case ("episodes", "patient_id", "F-101"):
                assert value not in valid_patients
            case ("episodes", "therapeut_id", "F-101"):
                assert value not in valid_therapists
            case ("verrichtingen", "episode_id", "F-101"):
                assert value not in episode_ids
            case ("verrichtingen", "therapeut_id", "F-101"):
                assert value not in therapists
            case ("patienten", "toestemming", "F-102") | ("therapeuten", "deelname", "F-102"):
                assert value != "toestemming"
            case ("therapeuten", "big_nummer", "F-103"):
                assert value.isdigit() and len(value) != 11
            case ("episodes", "episode_id", "F-104"):
                assert value not in measured
            case ("verrichtingen", "score", "F-105"):
                low, high = SCORE_RANGES[row["instrument"]]
                assert not low <= int(value) <= high
            case ("verrichtingen", "datum", "F-106"):
                assert row["day"] < row["start"]
            case ("patienten", "bsn", "F-107"):
                assert not bsn.is_valid(value)
            case ("therapeuten", "zvl_nummer", "W-101"):
                assert value == "1111"
            case ("episodes", "screening_uitkomst", "W-102"):
                assert value is None and row["verwijzing"] == "DTF"
            case ("episodes", "einddatum", "W-103"):
                start = dt.date.fromisoformat(row["startdatum"])
                assert value is None and (TODAY - start).days > 365
            case ("episodes", "dcsph", "F-001"):
                assert value is None
            case ("episodes", "dcsph", "F-002"):
                assert not value.isdigit()
            case ("episodes", "chronisch", "F-003"):
                assert value not in ("J", "N")
            case other:
                pytest.fail(f"unexpected message {other}")
