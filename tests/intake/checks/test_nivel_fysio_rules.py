"""Every rule and message of shared/datasets/nivel-fysio.md, each triggered by a real ZIP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.intake.conftest import csv_bytes, triples, write_zip
from zorgbroker.intake.spec import load_dataset

SPEC = load_dataset("nivel-fysio")
HEADERS = {t.name: [f.name for f in t.fields] for t in SPEC.tables}
AGB = "87654321"

Tables = dict[str, list[dict[str, str]]]


def valid() -> Tables:
    return {
        "praktijk": [
            {
                "praktijk_agb": AGB,
                "praktijk_naam": "Fysio De Brug",
                "postcode4": "3511",
                "extractie_datum": "2026-11-20",
                "periode_van": "2026-09-21",
                "periode_tot": "2026-11-20",
                "software": "PraktijkSys 4.2",
            }
        ],
        "therapeuten": [
            {
                "therapeut_id": "T1",
                "achternaam": "Bakker",
                "geboortedatum": "1980-05-06",
                "geslacht": "V",
                "zvl_soort": "01",
                "zvl_nummer": "04123456",
                "big_nummer": "19012345601",
                "deelname": "toestemming",
            },
            {
                "therapeut_id": "T2",
                "achternaam": "Visser",
                "geboortedatum": "1975-01-02",
                "geslacht": "M",
                "zvl_soort": "02",
                "zvl_nummer": "04123457",
                "big_nummer": "19012345602",
                "deelname": "toestemming",
            },
        ],
        "patienten": [
            {
                "patient_id": "P1",
                "bsn": "111222333",
                "geboortedatum": "1960-07-08",
                "geslacht": "M",
                "postcode4": "3512",
                "verzekeraar_uzovi": "3311",
                "toestemming": "toestemming",
            },
            {
                "patient_id": "P2",
                "bsn": "123456782",
                "geboortedatum": "1990-02-03",
                "geslacht": "V",
                "postcode4": "3513",
                "verzekeraar_uzovi": "3343",
                "toestemming": "toestemming",
            },
        ],
        "episodes": [
            {
                "episode_id": "E1",
                "patient_id": "P1",
                "therapeut_id": "T1",
                "startdatum": "2026-10-01",
                "einddatum": "2026-11-15",
                "verwijzing": "HA",
                "dcsph": "1234",
                "chronisch": "N",
            },
            {
                "episode_id": "E2",
                "patient_id": "P2",
                "therapeut_id": "T2",
                "startdatum": "2026-10-05",
                "einddatum": "",
                "verwijzing": "DTF",
                "dcsph": "3401",
                "chronisch": "J",
                "screening_uitkomst": "pluis",
            },
        ],
        "verrichtingen": [
            {
                "episode_id": "E1",
                "datum": "2026-10-01",
                "soort": "M",
                "therapeut_id": "T1",
                "instrument": "NPRS",
                "score": "7",
            },
            {
                "episode_id": "E1",
                "datum": "2026-10-08",
                "soort": "B",
                "therapeut_id": "T1",
                "prestatiecode": "1000",
            },
            {
                "episode_id": "E2",
                "datum": "2026-10-05",
                "soort": "M",
                "therapeut_id": "T2",
                "instrument": "998",
            },
            {
                "episode_id": "E2",
                "datum": "2026-10-12",
                "soort": "B",
                "therapeut_id": "T1",
                "prestatiecode": "1000",
            },
        ],
    }


def write(tmp_path: Path, tables: Tables, skip: str | None = None) -> Path:
    return write_zip(
        tmp_path / "nivel.zip",
        {
            f"{name}.csv": csv_bytes(HEADERS[name], rows)
            for name, rows in tables.items()
            if name != skip
        },
    )


def change(tables: Tables, table: str, index: int, **values: str) -> Tables:
    tables[table][index].update(values)
    return tables


def with_row(tables: Tables, table: str, **values: str) -> Tables:
    tables[table].append(values)
    return tables


CASES = [
    (
        "F-101 unknown patient",
        lambda t: change(t, "episodes", 1, patient_id="P9"),
        {("episodes", 2, "patient_id", "F-101")},
        1,
    ),
    (
        "F-101 unknown episode in treatments",
        lambda t: with_row(
            t,
            "verrichtingen",
            episode_id="E7",
            datum="2026-10-02",
            soort="B",
            therapeut_id="T1",
            prestatiecode="1000",
        ),
        {("verrichtingen", 5, "episode_id", "F-101")},
        0,
    ),
    (
        "F-101 cascades from a rejected patient",
        lambda t: change(t, "patienten", 1, bsn="123456783"),
        {("patienten", 2, "bsn", "F-107"), ("episodes", 2, "patient_id", "F-101")},
        1,
    ),
    (
        "F-101 cascades from a therapist without consent (treatment rejects its episode)",
        lambda t: change(t, "therapeuten", 0, deelname="geen"),
        {
            ("therapeuten", 1, "deelname", "F-102"),
            ("episodes", 1, "therapeut_id", "F-101"),
            ("verrichtingen", 1, "therapeut_id", "F-101"),
            ("verrichtingen", 2, "therapeut_id", "F-101"),
            ("verrichtingen", 4, "therapeut_id", "F-101"),
        },
        2,
    ),
    (
        "F-102 patient without consent",
        lambda t: change(t, "patienten", 0, toestemming="bezwaar"),
        {("patienten", 1, "toestemming", "F-102"), ("episodes", 1, "patient_id", "F-101")},
        1,
    ),
    (
        "F-103 BIG not 11 digits",
        lambda t: change(t, "therapeuten", 1, big_nummer="1234567890"),
        {
            ("therapeuten", 2, "big_nummer", "F-103"),
            ("episodes", 2, "therapeut_id", "F-101"),
            ("verrichtingen", 3, "therapeut_id", "F-101"),
        },
        1,
    ),
    (
        "F-104 episode without measurement",
        lambda t: change(t, "verrichtingen", 2, soort="B", instrument="", prestatiecode="1000"),
        {("episodes", 2, "episode_id", "F-104")},
        1,
    ),
    (
        "F-105 score outside range",
        lambda t: change(t, "verrichtingen", 0, score="11"),
        {("verrichtingen", 1, "score", "F-105")},
        1,
    ),
    (
        "F-106 treatment outside its episode",
        lambda t: change(t, "verrichtingen", 1, datum="2026-11-16"),
        {("verrichtingen", 2, "datum", "F-106")},
        1,
    ),
    (
        "F-107 eleven-test",
        lambda t: change(t, "patienten", 0, bsn="111222334"),
        {("patienten", 1, "bsn", "F-107"), ("episodes", 1, "patient_id", "F-101")},
        1,
    ),
    (
        "W-101 therapist without AGB",
        lambda t: change(t, "therapeuten", 0, zvl_nummer="1111"),
        {("therapeuten", 1, "zvl_nummer", "W-101")},
        0,
    ),
    (
        "W-102 direct access without screening",
        lambda t: change(t, "episodes", 1, screening_uitkomst=""),
        {("episodes", 2, "screening_uitkomst", "W-102")},
        0,
    ),
    (
        "W-103 open longer than a year",
        lambda t: (
            change(t, "verrichtingen", 2, datum="2025-10-01")
            and change(t, "episodes", 1, startdatum="2025-10-01")
        ),
        {("episodes", 2, "einddatum", "W-103")},
        0,
    ),
    (
        "F-006 duplicate episode id",
        lambda t: with_row(
            t,
            "episodes",
            episode_id="E1",
            patient_id="P2",
            therapeut_id="T2",
            startdatum="2026-10-05",
            verwijzing="HA",
            dcsph="3401",
            chronisch="J",
        ),
        {("episodes", 1, "episode_id", "F-006"), ("episodes", 3, "episode_id", "F-006")},
        2,
    ),
    (
        "F-004 start after extraction",
        lambda t: (
            change(t, "episodes", 0, startdatum="2026-11-21", einddatum="")
            and change(t, "verrichtingen", 0, datum="2026-11-21")
            and change(t, "verrichtingen", 1, datum="2026-11-21")
        ),
        {("episodes", 1, "startdatum", "F-004")},
        1,
    ),
    (
        "F-004 period over 62 days",
        lambda t: change(t, "praktijk", 0, periode_van="2026-09-01"),
        {("praktijk", 1, "periode_tot", "F-004")},
        # Every episode is stored with its practice: without the practice row, none can be.
        2,
    ),
]


@pytest.mark.parametrize(
    ("title", "mutate", "expected", "rejected"), CASES, ids=[c[0] for c in CASES]
)
def test_rule(tmp_path: Path, check, title, mutate, expected, rejected) -> None:  # type: ignore[no-untyped-def]
    tables = mutate(valid())
    report = check(write(tmp_path, tables), "nivel-fysio", organisation=AGB)
    assert triples(report.messages) == expected
    assert report.records == len(tables["episodes"])
    assert report.rejected == rejected


def test_clean_archive(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    report = check(write(tmp_path, valid()), "nivel-fysio", organisation=AGB)
    assert triples(report.messages) == set()
    assert (report.records, report.accepted) == (2, 2)


def test_bf101_missing_table(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    report = check(write(tmp_path, valid(), skip="therapeuten"), "nivel-fysio")
    assert triples(report.messages) == {("therapeuten", None, None, "BF-101")}
    assert report.file_rejected and report.accepted == 0


def test_bf101_practice_not_one_row(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    tables = valid()
    tables["praktijk"].append(dict(tables["praktijk"][0]))
    report = check(write(tmp_path, tables), "nivel-fysio")
    assert ("praktijk", None, None, "BF-101") in triples(report.messages)
    assert report.file_rejected


def test_bf102_other_practice(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    tables = valid()
    report = check(write(tmp_path, tables), "nivel-fysio", organisation="11112222")
    assert triples(report.messages) == {("praktijk", None, "praktijk_agb", "BF-102")}
    assert report.messages["value"].to_list() == [tables["praktijk"][0]["praktijk_agb"]]
    assert report.file_rejected and report.accepted == 0
