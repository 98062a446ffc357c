"""Every rule and message of shared/datasets/parabench-mi.md, each triggered by a real file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.intake.conftest import triples, write_csv
from zorgbroker.intake.spec import load_dataset

HEADER = [f.name for f in load_dataset("parabench-mi").main_table.fields]
AGB = "22223333"


def quarter(q: int, **changes: str) -> dict[str, str]:
    row = {
        "praktijk_agb": AGB,
        "jaar": "2025",
        "kwartaal": str(q),
        "jaar_afgesloten": "J",
        "regio": "UT",
        "netwerk": "FYSIONET",
        "fte_therapeuten": "4,5",
        "patienten": "400",
        "nieuwe_patienten": "150",
        "patienten_man": "180",
        "patienten_0_17": "40",
        "patienten_18_64": "260",
        "patienten_65_plus": "100",
        "episodes_gestart": "160",
        "episodes_gestart_dtf": "60",
        "episodes_afgesloten": "150",
        "episodes_afgesloten_chronisch": "20",
        "behandelingen": "2000",
        "behandelingen_afgesloten_episodes": "1300",
        "behandelingen_afgesloten_chronisch": "400",
        "no_shows": "40",
        "omzet_eur": "80000",
        "omzet_contract_eur": "70000",
        "episodes_met_uitkomstmeting": "120",
    }
    row.update(changes)
    return row


RECORD_CASES = [
    (
        "F-201 current quarter not complete",
        {"jaar": "2026", "kwartaal": "4"},
        {(2, "kwartaal", "F-201")},
        True,
    ),
    (
        "F-202 new patients above patients",
        {"nieuwe_patienten": "401"},
        {(2, "nieuwe_patienten", "F-202")},
        True,
    ),
    ("F-202 men above patients", {"patienten_man": "401"}, {(2, "patienten_man", "F-202")}, True),
    (
        "F-202 age bands do not add up",
        {"patienten_65_plus": "99"},
        {(2, "patienten_65_plus", "F-202")},
        True,
    ),
    (
        "F-202 direct access above started",
        {"episodes_gestart_dtf": "161"},
        {(2, "episodes_gestart_dtf", "F-202")},
        True,
    ),
    (
        "F-202 chronic above closed",
        {"episodes_afgesloten_chronisch": "151"},
        {(2, "episodes_afgesloten_chronisch", "F-202")},
        True,
    ),
    (
        "F-202 contract revenue above revenue",
        {"omzet_contract_eur": "80001"},
        {(2, "omzet_contract_eur", "F-202")},
        True,
    ),
    (
        "F-202 outcome measured above closed",
        {"episodes_met_uitkomstmeting": "151"},
        {(2, "episodes_met_uitkomstmeting", "F-202")},
        True,
    ),
    (
        "W-201 treatments per fte",
        {"fte_therapeuten": "0.9"},
        {(2, "behandelingen", "W-201")},
        False,
    ),
    (
        "W-202 revenue per treatment",
        {"omzet_eur": "20000", "omzet_contract_eur": "10000"},
        {(2, "omzet_eur", "W-202")},
        False,
    ),
    ("F-004 negative count", {"no_shows": "-1"}, {(2, "no_shows", "F-004")}, True),
    ("F-003 unknown region", {"regio": "XX"}, {(2, "regio", "F-003")}, True),
]


@pytest.mark.parametrize(
    ("title", "changes", "expected", "rejected"), RECORD_CASES, ids=[c[0] for c in RECORD_CASES]
)
def test_record_rule(tmp_path: Path, check, title, changes, expected, rejected) -> None:  # type: ignore[no-untyped-def]
    base = {"jaar": changes.get("jaar", "2025")}
    rows = [quarter(3, **base), quarter(int(changes.get("kwartaal", "4")), **changes)]
    report = check(write_csv(tmp_path / "mi.csv", HEADER, rows), "parabench-mi", organisation=AGB)
    assert triples(report.messages) == expected
    assert report.rejected == (1 if rejected else 0)


FILE_CASES = [
    (
        "BF-201 patient column",
        lambda rows: [r | {"bsn": "111222333"} for r in rows],
        [*HEADER, "bsn"],
        {(None, None, "BF-201")},
    ),
    (
        "BF-201 six-digit postcode column",
        lambda rows: rows,
        [*HEADER, "postcode"],
        {(None, None, "BF-201")},
    ),
    (
        "BF-202 two practices",
        lambda rows: [rows[0], rows[1] | {"praktijk_agb": "99998888"}],
        HEADER,
        {(None, "praktijk_agb", "BF-202")},
    ),
    (
        "BF-202 two years",
        lambda rows: [rows[0], rows[1] | {"jaar": "2024"}],
        HEADER,
        {(None, "praktijk_agb", "BF-202")},
    ),
    (
        "BF-203 same quarter twice",
        lambda rows: [rows[0], rows[1] | {"kwartaal": "1", "no_shows": "41"}],
        HEADER,
        {(None, "kwartaal", "BF-203")},
    ),
    (
        "BF-204 closed-year flag differs",
        lambda rows: [rows[0], rows[1] | {"jaar_afgesloten": "N"}],
        HEADER,
        {(None, "jaar_afgesloten", "BF-204")},
    ),
]


@pytest.mark.parametrize(
    ("title", "mutate", "header", "expected"), FILE_CASES, ids=[c[0] for c in FILE_CASES]
)
def test_file_rule(tmp_path: Path, check, title, mutate, header, expected) -> None:  # type: ignore[no-untyped-def]
    rows = mutate([quarter(1), quarter(2)])
    report = check(write_csv(tmp_path / "mi.csv", header, rows), "parabench-mi", organisation=AGB)
    assert triples(report.messages) == expected
    assert report.file_rejected and report.accepted == 0


def test_bf202_other_practice_than_uploader(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "mi.csv", HEADER, [quarter(1), quarter(2)])
    messages = check(path, "parabench-mi", organisation="12121212").messages
    assert triples(messages) == {(None, "praktijk_agb", "BF-202")}
    assert messages["value"].to_list() == [AGB]  # which practice the file is for


@pytest.mark.parametrize(
    ("rows", "value"),
    [
        ([quarter(1), quarter(2, praktijk_agb="99998888")], f"{AGB}, 99998888"),
        ([quarter(1), quarter(2), quarter(2, no_shows="41"), quarter(3)], "2"),
    ],
    ids=["BF-202 two practices", "BF-203 quarter 2 twice"],
)
def test_a_file_rule_names_the_values_that_broke_it(tmp_path: Path, check, rows, value) -> None:  # type: ignore[no-untyped-def]
    messages = check(write_csv(tmp_path / "mi.csv", HEADER, rows), "parabench-mi").messages
    assert messages["value"].to_list() == [value]


def test_clean_year(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "mi.csv", HEADER, [quarter(q) for q in (1, 2, 3, 4)])
    report = check(path, "parabench-mi", organisation=AGB)
    assert triples(report.messages) == set()
    assert report.accepted == 4
