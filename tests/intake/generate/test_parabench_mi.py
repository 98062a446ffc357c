"""Generated parabench-mi files: one practice-year whose figures keep every count rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from tests.intake.generate.conftest import TODAY, header, read_csv
from zorgbroker.intake.generate import Generated, generate
from zorgbroker.intake.generate.message_fields import MESSAGE_FIELDS

SPEC_COLUMNS = [
    "praktijk_agb", "jaar", "kwartaal", "jaar_afgesloten", "regio", "netwerk", "fte_therapeuten",
    "patienten", "nieuwe_patienten", "patienten_man", "patienten_0_17", "patienten_18_64",
    "patienten_65_plus", "episodes_gestart", "episodes_gestart_dtf", "episodes_afgesloten",
    "episodes_afgesloten_chronisch", "behandelingen", "behandelingen_afgesloten_episodes",
    "behandelingen_afgesloten_chronisch", "no_shows", "omzet_eur", "omzet_contract_eur",
    "episodes_met_uitkomstmeting",
]  # fmt: skip
NUMBERS = ["fte_therapeuten", "omzet_eur", "omzet_contract_eur"]
COUNTS = [c for c in SPEC_COLUMNS[7:] if c not in NUMBERS]
PARTS = {
    "nieuwe_patienten": "patienten",
    "patienten_man": "patienten",
    "episodes_gestart_dtf": "episodes_gestart",
    "episodes_afgesloten_chronisch": "episodes_afgesloten",
    "behandelingen_afgesloten_chronisch": "behandelingen_afgesloten_episodes",
    "omzet_contract_eur": "omzet_eur",
    "episodes_met_uitkomstmeting": "episodes_afgesloten",
}
REGIONS = {"GR", "FR", "DR", "OV", "FL", "GE", "UT", "NH", "ZH", "ZE", "NB", "LI"}
#: A day in the third quarter: quarters 1 and 2 of its year are complete, 3 and 4 are not.
SUMMER = dt.date(2026, 8, 14)


def typed(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        *[pl.col(c).cast(pl.Int64, strict=False) for c in COUNTS],
        *[pl.col(c).cast(pl.Float64, strict=False) for c in NUMBERS],
    )


def make(tmp_path: Path, rows: int, **options: object) -> tuple[Generated, pl.DataFrame]:
    out = tmp_path / f"parabench-{rows}.csv"
    generated = generate("parabench-mi", rows=rows, out=out, **options)  # type: ignore[arg-type]
    return generated, read_csv(out)


def test_ten_thousand_rows_make_one_complete_past_year(tmp_path: Path) -> None:
    generated, frame = make(tmp_path, 10_000, seed=2, today=TODAY)
    assert header(generated.path) == SPEC_COLUMNS
    assert generated.rows == frame.height == 4
    assert frame["kwartaal"].to_list() == ["1", "2", "3", "4"]
    assert frame["jaar"].unique().to_list() == [str(TODAY.year - 1)]
    assert frame["praktijk_agb"].unique().to_list() == [generated.organisation] == ["04012345"]
    assert frame["jaar_afgesloten"].n_unique() == 1
    assert set(frame["jaar_afgesloten"].to_list()) <= {"J", "N"}
    assert set(frame["regio"].to_list()) <= REGIONS
    assert generated.expected == []


@pytest.mark.parametrize("seed", range(20))
def test_clean_figures_keep_every_count_rule(tmp_path: Path, seed: int) -> None:
    generated, frame = make(tmp_path, 4, seed=seed, today=TODAY)
    assert generated.expected == []
    figures = typed(frame)
    for column in COUNTS + NUMBERS:
        assert figures[column].null_count() == 0
        assert (figures[column] >= 0).all()
    for part, whole in PARTS.items():
        assert (figures[part] <= figures[whole]).all()
    bands = figures["patienten_0_17"] + figures["patienten_18_64"] + figures["patienten_65_plus"]
    assert (bands == figures["patienten"]).all()
    per_fte = figures["behandelingen"] / figures["fte_therapeuten"]
    assert (per_fte <= 2000).all()
    per_treatment = figures["omzet_eur"] / figures["behandelingen"]
    assert ((per_treatment >= 15) & (per_treatment <= 150)).all()
    assert frame["omzet_eur"].str.contains(r"^\d+\.\d{2}$").all()
    netwerk = frame["netwerk"].drop_nulls()
    assert (netwerk.str.len_chars() <= 40).all()


def test_fewer_quarters_start_with_the_first(tmp_path: Path) -> None:
    generated, frame = make(tmp_path, 2, seed=1, today=TODAY)
    assert generated.rows == 2
    assert frame["kwartaal"].to_list() == ["1", "2"]


def test_same_seed_gives_the_same_file(tmp_path: Path) -> None:
    first, _ = make(tmp_path / "a", 4, seed=9, error_rate=0.5, today=TODAY)
    again, _ = make(tmp_path / "b", 4, seed=9, error_rate=0.5, today=TODAY)
    assert first.path.read_bytes() == again.path.read_bytes()
    assert first.expected == again.expected


def check_fault(row: dict[str, object], field: str, code: str, today: dt.date) -> None:
    """Assert that the row breaks the rule its message names."""
    value = row[field]
    match code:
        case "F-001":
            assert value is None
        case "F-002":
            assert isinstance(value, str) and not value.lstrip("-").isdigit()
        case "F-003":
            assert value not in REGIONS
        case "F-004":
            assert int(str(value)) < 0
        case "F-201":
            assert row["jaar"] == str(today.year)
            assert int(str(value)) >= (today.month - 1) // 3 + 1
        case "F-202" if field == "patienten_65_plus":
            bands = sum(int(str(row[c])) for c in ("patienten_0_17", "patienten_18_64", field))
            assert bands != int(str(row["patienten"]))
        case "F-202":
            assert float(str(value)) > float(str(row[PARTS[field]]))
        case "W-201":
            assert int(str(value)) / float(str(row["fte_therapeuten"])) > 2000
        case "W-202":
            ratio = float(str(value)) / int(str(row["behandelingen"]))
            assert not 15 <= ratio <= 150
        case _:
            pytest.fail(f"unexpected code {code}")


def test_faults_break_what_their_message_says_and_cover_the_codes(tmp_path: Path) -> None:
    seen: set[str] = set()
    faults = quarters = 0
    for seed in range(120):
        generated, frame = make(tmp_path / str(seed), 4, seed=seed, error_rate=0.25, today=SUMMER)
        quarters += frame.height
        faults += len(generated.expected)
        records = [e.record for e in generated.expected]
        assert len(set(records)) == len(records)  # one message per faulted quarter
        for e in generated.expected:
            assert e.table is None and e.field is not None
            check_fault(frame.row(e.record - 1, named=True), e.field, e.code, SUMMER)
            if e.code in MESSAGE_FIELDS["parabench-mi"]:
                assert e.field in MESSAGE_FIELDS["parabench-mi"][e.code]
            seen.add(e.code)
        if frame["jaar"][0] == str(SUMMER.year):
            # A file about the current year: every incomplete quarter has F-201, the rest not.
            f201 = {e.record for e in generated.expected if e.code == "F-201"}
            assert f201 == {3, 4}
    assert seen == set(MESSAGE_FIELDS["parabench-mi"]) | {"F-001", "F-002", "F-003", "F-004"}
    # F-201 moves a whole file to the current year, so it adds a few faults to the 25 %.
    assert 0.15 < faults / quarters < 0.4
