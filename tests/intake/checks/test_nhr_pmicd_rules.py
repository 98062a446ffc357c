"""Every rule and message of shared/datasets/nhr-pmicd.md, each triggered by a real file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.intake.conftest import triples, write_csv
from zorgbroker.intake.spec import load_dataset

HEADER = [f.name for f in load_dataset("nhr-pmicd").main_table.fields]
AGB = "01234567"


def valid(**changes: str) -> dict[str, str]:
    row = {
        "centrum_agb": AGB,
        "bsn": "111222333",
        "achternaam": "Jansen",
        "geboortedatum": "1950-03-04",
        "geslacht": "M",
        "procedure_datum": "2026-11-10",
        "procedure_type": "1",
        "device_type": "PM-DC",
        "indicatie": "AVB",
        "fabrikant": "MDT",
        "udi_di": "00614141999996",
        "serienummer": "ABC12345",
        "aantal_leads": "2",
        "lead1_positie": "RA",
        "lead2_positie": "RV",
        "lead1_serienummer": "L1234",
        "lead2_serienummer": "L5678",
        "opname_datum": "2026-11-09",
        "ontslag_datum": "2026-11-11",
        "complicatie_30d": "N",
        "operateur_big": "12345678901",
    }
    row.update(changes)
    return row


CASES: list[tuple[str, dict[str, str], set[tuple[object, ...]]]] = [
    ("F-001 required value missing", {"geslacht": ""}, {(2, "geslacht", "F-001")}),
    ("F-002 wrong type", {"aantal_leads": "twee"}, {(2, "aantal_leads", "F-002")}),
    ("F-002 impossible date", {"opname_datum": "2026-02-30"}, {(2, "opname_datum", "F-002")}),
    ("F-002 AGB not 8 digits", {"centrum_agb": "1234"}, {(2, "centrum_agb", "F-002")}),
    ("F-002 BSN not digits", {"bsn": "12345678A"}, {(2, "bsn", "F-002")}),
    ("F-002 BIG not 11 digits", {"operateur_big": "123"}, {(2, "operateur_big", "F-002")}),
    ("F-003 not in code list", {"geslacht": "Q"}, {(2, "geslacht", "F-003")}),
    ("F-003 device type", {"device_type": "PM-XX"}, {(2, "device_type", "F-003")}),
    ("F-004 lead count over 4", {"aantal_leads": "5"}, {(2, "aantal_leads", "F-004")}),
    ("F-005 surname over 100", {"achternaam": "x" * 101}, {(2, "achternaam", "F-005")}),
    ("F-301 eleven-test", {"bsn": "111222334"}, {(2, "bsn", "F-301")}),
    (
        "F-302 in the future",
        {"procedure_datum": "2026-11-23", "opname_datum": "", "ontslag_datum": ""},
        {(2, "procedure_datum", "F-302")},
    ),
    (
        "F-302 before 2000",
        {
            "procedure_datum": "1999-12-31",
            "opname_datum": "",
            "ontslag_datum": "",
            "geboortedatum": "1940-01-01",
        },
        {(2, "procedure_datum", "F-302")},
    ),
    ("F-303 before birth", {"geboortedatum": "2026-11-11"}, {(2, "procedure_datum", "F-303")}),
    ("F-304 leadless with leads", {"device_type": "LEADLESS"}, {(2, "aantal_leads", "F-304")}),
    ("F-304 S-ICD not one lead", {"device_type": "S-ICD"}, {(2, "aantal_leads", "F-304")}),
    (
        "F-304 S-ICD lead not SUBQ",
        {"device_type": "S-ICD", "aantal_leads": "1", "lead2_positie": "", "lead2_serienummer": ""},
        {(2, "aantal_leads", "F-304")},
    ),
    (
        "F-304 dual chamber one lead on first implant",
        {"aantal_leads": "1", "lead2_positie": "", "lead2_serienummer": ""},
        {(2, "aantal_leads", "F-304")},
    ),
    (
        "F-304 CRT without LV or HIS",
        {"device_type": "CRT-D", "indicatie": "HF"},
        {(2, "aantal_leads", "F-304")},
    ),
    ("F-305 position beyond count", {"lead3_positie": "LV"}, {(2, "lead3_positie", "F-305")}),
    (
        "F-305 serial missing within count",
        {"lead2_serienummer": ""},
        {(2, "lead2_serienummer", "F-305")},
    ),
    ("F-306 UDI-DI check digit", {"udi_di": "00614141999995"}, {(2, "udi_di", "F-306")}),
    ("F-307 serial missing", {"serienummer": ""}, {(2, "serienummer", "F-307")}),
    (
        "F-307 serial missing on explant",
        {"procedure_type": "5", "indicatie": "", "serienummer": ""},
        {(2, "serienummer", "F-307")},
    ),
    (
        "F-308 discharge before admission",
        {
            "ontslag_datum": "2026-11-08",
            "opname_datum": "2026-11-09",
            "procedure_datum": "2026-11-09",
        },
        {(2, "ontslag_datum", "F-308")},
    ),
    (
        "F-308 death before procedure",
        {"overlijdensdatum": "2026-11-01"},
        {(2, "overlijdensdatum", "F-308")},
    ),
    ("W-301 under 18", {"geboortedatum": "2010-01-01"}, {(2, "geboortedatum", "W-301")}),
    ("W-301 over 100", {"geboortedatum": "1920-01-01"}, {(2, "geboortedatum", "W-301")}),
    (
        "W-302 outside admission",
        {"opname_datum": "2026-11-11", "ontslag_datum": "2026-11-12"},
        {(2, "procedure_datum", "W-302")},
    ),
    (
        "W-303 complication type without J",
        {"complicatie_type": "POCKET"},
        {(2, "complicatie_type", "W-303")},
    ),
    (
        "W-304 sent late",
        {
            "procedure_datum": "2026-10-01",
            "opname_datum": "2026-10-01",
            "ontslag_datum": "2026-10-02",
        },
        {(2, "procedure_datum", "W-304")},
    ),
    ("required when: indication on first implant", {"indicatie": ""}, {(2, "indicatie", "F-001")}),
    (
        "required when: complication type when J",
        {"complicatie_30d": "J"},
        {(2, "complicatie_type", "F-001")},
    ),
]


def second_patient(**changes: str) -> dict[str, str]:
    """Another valid procedure (other patient, other serials), with the case's changes applied."""
    row = valid(
        bsn="123456782",
        serienummer="QQQ11111",
        lead1_serienummer="L2222",
        lead2_serienummer="L3333",
    )
    row.update(changes)
    return row


@pytest.mark.parametrize(("title", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule(
    tmp_path: Path,
    check,
    title: str,
    changes: dict[str, str],  # type: ignore[no-untyped-def]
    expected: set[tuple[object, ...]],
) -> None:
    path = write_csv(tmp_path / "export.csv", HEADER, [valid(), second_patient(**changes)])
    report = check(path, "nhr-pmicd", organisation=AGB)
    assert triples(report.messages) == expected
    assert report.records == 2
    rejected = any(str(code).startswith("F-") for *_, code in expected)
    assert report.rejected == (1 if rejected else 0)


def test_f309_other_organisation(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(
        tmp_path / "export.csv", HEADER, [valid(), valid(centrum_agb="07654321", bsn="123456782")]
    )
    report = check(path, "nhr-pmicd", organisation=AGB)
    assert triples(report.messages) == {(2, "centrum_agb", "F-309")}
    # Without --organisation nobody is "another organisation".
    assert triples(check(path, "nhr-pmicd").messages) == set()


def test_dd_mm_yyyy_dates_are_detected(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    row = valid(
        geboortedatum="04-03-1950",
        procedure_datum="10-11-2026",
        opname_datum="09-11-2026",
        ontslag_datum="11-11-2026",
    )
    path = write_csv(tmp_path / "export.csv", HEADER, [row])
    report = check(path, "nhr-pmicd", organisation=AGB)
    assert triples(report.messages) == set()
    assert report.accepted == 1


def test_identifying_values_never_repeated(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    row = valid(bsn="111222334", geboortedatum="2026-11-11", achternaam="Øster" + "y" * 150)
    report = check(write_csv(tmp_path / "e.csv", HEADER, [row]), "nhr-pmicd")
    assert triples(report.messages) == {
        (1, "bsn", "F-301"),
        (1, "achternaam", "F-005"),
        (1, "procedure_datum", "F-303"),
    }
    values = dict(zip(report.messages["field"], report.messages["value"], strict=True))
    assert values == {"bsn": None, "achternaam": None, "procedure_datum": "2026-11-10"}


def test_leading_zeros_lost_in_a_spreadsheet_are_restored(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    """An AGB code or UDI-DI saved as a number loses its leading zeros; a BSN too."""
    row = valid(centrum_agb="1234567", udi_di="614141999996", bsn="10000008")
    report = check(write_csv(tmp_path / "e.csv", HEADER, [row]), "nhr-pmicd", organisation=AGB)
    assert triples(report.messages) == set()
    # Only a plausible loss is restored: a value further short is still a format error.
    short = valid(centrum_agb="123456", udi_di="14141999996")
    report = check(write_csv(tmp_path / "f.csv", HEADER, [short]), "nhr-pmicd", organisation=AGB)
    assert triples(report.messages) == {(1, "centrum_agb", "F-002"), (1, "udi_di", "F-002")}


def test_an_excel_export_with_numbers_and_date_cells(tmp_path: Path, check) -> None:  # type: ignore[no-untyped-def]
    """Excel stores codes as numbers (zeros gone) and dates as date cells; both still check."""
    import datetime as dt

    import xlsxwriter

    path = tmp_path / "export.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("PM-ICD")
    dates = book.add_format({"num_format": "dd-mm-yyyy"})
    row = valid(bsn="010000008", udi_di="00614141999996")
    for col, name in enumerate(HEADER):
        sheet.write_string(0, col, name)
        value = row.get(name, "")
        if name in ("centrum_agb", "bsn", "udi_di", "aantal_leads", "operateur_big"):
            sheet.write_number(1, col, int(value))
        elif name.endswith("datum") and value:
            sheet.write_datetime(1, col, dt.datetime.fromisoformat(value), dates)
        elif value:
            sheet.write_string(1, col, value)
    book.close()
    report = check(path, "nhr-pmicd", organisation=AGB)
    assert triples(report.messages) == set()
    assert (report.records, report.accepted, report.file.format) == (1, 1, "xlsx")
