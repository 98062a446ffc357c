"""nivel-fysio: an episode replaced with all its treatments, TW-101; parabench-mi: a practice's
year replaced as a whole, TW-201."""

from __future__ import annotations

import polars as pl

from tests.registry.conftest import Registry, codes, nivel_tables, parabench_row, table_codes
from zorgbroker.intake.report.model import Stored


def submit_nivel(registry: Registry, tables: dict[str, list[dict[str, str]]]):  # type: ignore[no-untyped-def]
    return registry.submit_file(registry.nivel_file(tables), dataset="nivel-fysio")


def test_episode_with_its_treatments_is_stored_across_tables(registry: Registry):
    report = submit_nivel(registry, nivel_tables())

    assert report.messages.height == 0
    assert report.stored == Stored(new=1)
    episodes = registry.held("nivel-fysio", "episodes")
    treatments = registry.held("nivel-fysio", "verrichtingen")
    patients = registry.held("nivel-fysio", "patienten")
    therapists = registry.held("nivel-fysio", "therapeuten")
    assert episodes["praktijk_agb"].to_list() == ["01234567"]
    assert episodes["bsn"].to_list() == patients["bsn"].to_list()
    assert episodes["bsn"][0].startswith("zb2:nivel:")
    assert treatments["_parent_id"].to_list() == [episodes["_id"][0]] * 2
    assert therapists["achternaam"][0].startswith("zb2:nivel:")
    assert therapists["geboortedatum"].to_list() == [1980]
    assert registry.held("nivel-fysio", "praktijk").height == 1


def test_a_rejected_practice_row_rejects_every_record_with_a_report(registry: Registry):
    tables = nivel_tables()
    tables["praktijk"][0]["postcode4"] = "ABCD"

    report = submit_nivel(registry, tables)

    # The practice's own message says why; without its row no record can be stored.
    assert table_codes(report) == [("praktijk", 1, "postcode4", "F-002")]
    assert (report.records, report.rejected, report.file_rejected) == (1, 1, False)
    assert report.stored == Stored()
    assert registry.held("nivel-fysio", "episodes").height == 0
    assert registry.held("nivel-fysio", "praktijk").height == 0


def test_identical_resend_of_the_archive_changes_nothing(registry: Registry):
    submit_nivel(registry, nivel_tables())
    before = {t: registry.held("nivel-fysio", t) for t in ("episodes", "verrichtingen")}

    again = submit_nivel(registry, nivel_tables())

    assert again.stored == Stored(unchanged=1)
    assert again.messages.height == 0
    for table, frame in before.items():
        assert registry.held("nivel-fysio", table).equals(frame)


def test_treatment_rows_in_another_order_are_the_same_episode(registry: Registry):
    tables = nivel_tables()
    submit_nivel(registry, tables)
    tables["verrichtingen"].reverse()

    assert submit_nivel(registry, tables).stored == Stored(unchanged=1)


def test_a_later_version_replaces_the_episode_with_all_its_treatments(registry: Registry):
    submit_nivel(registry, nivel_tables())
    old_ids = registry.held("nivel-fysio", "verrichtingen")["_id"].to_list()
    treatments = [
        {"episode_id": "E1", "datum": "2026-10-01", "soort": "M", "therapeut_id": "T1",
         "prestatiecode": "", "instrument": "NPRS", "score": "6"},
        {"episode_id": "E1", "datum": "2026-10-15", "soort": "B", "therapeut_id": "T1",
         "prestatiecode": "1001", "instrument": "", "score": ""},
        {"episode_id": "E1", "datum": "2026-11-02", "soort": "M", "therapeut_id": "T1",
         "prestatiecode": "", "instrument": "NPRS", "score": "3"},
    ]  # fmt: skip

    report = submit_nivel(registry, nivel_tables(treatments=treatments))

    assert report.stored == Stored(updated=1)
    assert report.messages.height == 0
    episodes = registry.held("nivel-fysio", "episodes")
    stored = registry.held("nivel-fysio", "verrichtingen")
    assert episodes.height == 1
    assert stored.height == 3
    assert set(stored["_parent_id"].to_list()) == {episodes["_id"][0]}
    assert not set(stored["_id"].to_list()) & set(old_ids)
    assert stored.sort("datum")["prestatiecode"].to_list() == [None, "1001", None]


def test_tw101_episode_sent_earlier_with_another_patient(registry: Registry):
    submit_nivel(registry, nivel_tables())
    other_patient = [{"patient_id": "P1", "bsn": "111222333", "geboortedatum": "1961-02-03",
                      "geslacht": "M", "postcode4": "3512", "verzekeraar_uzovi": "3311",
                      "toestemming": "toestemming"}]  # fmt: skip

    report = submit_nivel(registry, nivel_tables(patients=other_patient))

    assert table_codes(report) == [("episodes", 1, "patient_id", "TW-101")]
    assert report.messages["value"].to_list() == ["P1"]
    assert report.stored == Stored(updated=1)
    episodes = registry.held("nivel-fysio", "episodes")
    patients = registry.held("nivel-fysio", "patienten")
    assert episodes["bsn"].to_list() == patients["bsn"].to_list()


def submit_year(registry: Registry, rows: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    return registry.submit_file(registry.parabench_file(rows), dataset="parabench-mi")


def test_year_resent_identically_is_unchanged_without_tw201(registry: Registry):
    year = [parabench_row(q) for q in (1, 2, 3, 4)]
    first = submit_year(registry, year)
    assert first.stored == Stored(new=4)

    again = submit_year(registry, year)

    assert again.stored == Stored(unchanged=4)
    assert codes(again) == []


def test_tw201_a_changed_year_replaces_the_earlier_upload_as_a_whole(registry: Registry):
    submit_year(registry, [parabench_row(q) for q in (1, 2, 3, 4)])
    first_ids = registry.held("parabench-mi")["_id"].to_list()

    changed = [parabench_row(q) for q in (1, 2, 3)]
    changed[1] = parabench_row(2, no_shows="55")
    report = submit_year(registry, changed)

    assert codes(report) == [(1, None, "TW-201"), (2, None, "TW-201"), (3, None, "TW-201")]
    assert report.stored == Stored(updated=1, unchanged=2)
    held = registry.held("parabench-mi")
    assert held["kwartaal"].to_list() == [1, 2, 3]  # quarter 4 went with the earlier upload
    assert held.filter(pl.col("kwartaal") == 2)["no_shows"].to_list() == [55]
    assert not set(held["_id"].to_list()) & set(first_ids)


def test_another_year_of_the_same_practice_is_new(registry: Registry):
    submit_year(registry, [parabench_row(q) for q in (1, 2, 3, 4)])

    report = submit_year(registry, [parabench_row(q, jaar="2024") for q in (1, 2, 3, 4)])

    assert report.stored == Stored(new=4)
    assert codes(report) == []
    assert registry.held("parabench-mi").height == 8
