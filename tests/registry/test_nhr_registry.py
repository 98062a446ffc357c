"""nhr-pmicd in production: identity and updates, every TF and TW rule, explant and re-implant."""

from __future__ import annotations

import polars as pl

from tests.registry.conftest import Registry, codes, explant, nhr_row
from zorgbroker.composition import open_registry
from zorgbroker.intake.report.model import Stored
from zorgbroker.registry.device_query import DeviceQuery
from zorgbroker.registry.devices import find_carriers

PATIENT_B = "123456782"
PATIENT_C = "999999990"


def b_row(**changes: str) -> dict[str, str]:
    """Patient B with a device of their own (no serial shared with `nhr_row()`)."""
    row = nhr_row(
        bsn=PATIENT_B,
        achternaam="Pietersen",
        serienummer="XYZ98765",
        lead1_serienummer="L9001",
        lead2_serienummer="L9002",
    )
    row.update(changes)
    return row


def test_first_upload_stores_each_accepted_record_as_new_and_pseudonymised(registry: Registry):
    report = registry.submit([nhr_row(), b_row()])

    assert report.stored == Stored(new=2)
    assert report.messages.height == 0
    held = registry.held()
    assert held.height == 2
    assert held["bsn"].str.starts_with("zb2:nhr:k1:").all()
    assert held["geboortedatum"].to_list() == [1950, 1950]
    assert held["leeftijd"].to_list() == [76, 76]
    assert "achternaam" not in held.columns


def test_identical_resend_is_unchanged_and_writes_nothing(registry: Registry):
    rows = [nhr_row(), b_row()]
    registry.submit(rows)
    before = registry.held()

    again = registry.submit(rows)

    assert again.stored == Stored(unchanged=2)
    assert again.messages.height == 0
    assert registry.held().equals(before)  # same ids, same upload, same content


def test_changed_content_replaces_the_stored_version(registry: Registry):
    registry.submit([nhr_row(), b_row()])

    report = registry.submit([nhr_row(complicatie_30d="J", complicatie_type="POCKET"), b_row()])

    assert report.stored == Stored(updated=1, unchanged=1)
    assert report.messages.height == 0
    held = registry.held()
    assert held.height == 2
    assert sorted(held["complicatie_30d"].to_list()) == ["J", "N"]


def test_a_later_row_with_the_same_identity_in_one_file_is_the_newer_version(registry: Registry):
    report = registry.submit([nhr_row(), nhr_row(complicatie_30d="O")])

    assert report.stored == Stored(new=1, updated=1)
    held = registry.held()
    assert held["complicatie_30d"].to_list() == ["O"]


def test_tf301_generator_serial_still_implanted_in_another_patient(registry: Registry):
    registry.submit([nhr_row()])

    report = registry.submit(
        [
            b_row(serienummer="ABC12345"),
            b_row(
                bsn=PATIENT_C,
                serienummer="NEW00001",
                lead1_serienummer="L0001",
                lead2_serienummer="L0002",
            ),
        ]
    )

    assert codes(report) == [(1, "serienummer", "TF-301")]
    assert report.messages["value"].to_list() == ["ABC12345"]
    assert report.messages["class"].to_list() == ["TF"]
    assert (report.records, report.accepted, report.rejected) == (2, 1, 1)
    assert report.stored == Stored(new=1)
    assert registry.held().height == 2


def test_tf302_lead_serial_still_implanted_in_another_patient(registry: Registry):
    registry.submit([nhr_row()])

    report = registry.submit([b_row(lead2_serienummer="L1234")])  # A's first lead

    assert codes(report) == [(1, "lead2_serienummer", "TF-302")]
    assert report.messages["value"].to_list() == ["L1234"]
    assert report.accepted == 0
    assert report.stored == Stored()
    assert registry.held().height == 1


def test_tw301_same_patient_same_date_other_procedure(registry: Registry):
    registry.submit([nhr_row()])
    revision = nhr_row(
        procedure_type="4",
        indicatie="",
        udi_di="",
        serienummer="",
        fabrikant="",
        lead1_serienummer="L7777",
        lead2_serienummer="L8888",
    )

    report = registry.submit([revision])

    assert codes(report) == [(1, "procedure_datum", "TW-301")]
    assert report.messages["value"].to_list() == ["2026-11-10"]
    assert report.accepted == 1
    assert report.stored == Stored(new=1)
    assert registry.held().height == 2


def test_tw302_replacement_without_an_earlier_implant(registry: Registry):
    replacement = b_row(procedure_type="2", serienummer="GEN00002")

    report = registry.submit([replacement])

    assert codes(report) == [(1, "procedure_type", "TW-302")]
    assert report.accepted == 1


def test_tw302_is_silent_when_an_earlier_implant_is_held_or_in_the_same_file(
    registry: Registry,
):
    registry.submit([nhr_row()])
    replacement_a = nhr_row(
        procedure_type="2",
        serienummer="GEN00002",
        procedure_datum="2026-11-18",
        opname_datum="",
        ontslag_datum="",
    )
    implant_b = b_row(procedure_datum="2026-11-01", opname_datum="", ontslag_datum="")
    explant_b = b_row(
        procedure_type="5",
        udi_di="",
        procedure_datum="2026-11-12",
        opname_datum="",
        ontslag_datum="",
    )

    report = registry.submit([replacement_a, implant_b, explant_b])

    assert codes(report) == []
    assert report.stored == Stored(new=3)


def test_explant_ends_the_registration_so_the_serial_can_go_to_another_patient(
    registry: Registry,
):
    registry.submit([nhr_row()])
    assert codes(registry.submit([explant()])) == []

    reimplant = b_row(
        serienummer="ABC12345",
        lead1_serienummer="L1234",
        procedure_datum="2026-11-18",
        opname_datum="",
        ontslag_datum="",
    )
    report = registry.submit([reimplant])

    assert codes(report) == []
    assert report.stored == Stored(new=1)
    # Now patient B carries it: a third patient gets TF-301 again.
    third = registry.submit(
        [
            b_row(
                bsn=PATIENT_C,
                serienummer="ABC12345",
                lead1_serienummer="L0001",
                lead2_serienummer="L0002",
                procedure_datum="2026-11-19",
                opname_datum="",
                ontslag_datum="",
            )
        ]
    )
    assert codes(third) == [(1, "serienummer", "TF-301")]
    carriers = find_carriers(
        open_registry(registry.settings),
        DeviceQuery(serial="ABC12345"),
        actor="test",
        on_behalf_of="test",
    )
    held = registry.held()
    b_pseudonym = held.filter(pl.col("procedure_datum") == pl.date(2026, 11, 18))["bsn"][0]
    assert carriers["pseudonym"].to_list() == [b_pseudonym]


def test_explant_and_reimplant_arrive_in_one_file(registry: Registry):
    registry.submit([nhr_row()])
    reimplant = b_row(
        serienummer="ABC12345", procedure_datum="2026-11-18", opname_datum="", ontslag_datum=""
    )

    report = registry.submit([explant(), reimplant])

    assert codes(report) == []
    assert report.stored == Stored(new=2)


def test_explant_of_a_serial_carried_by_another_patient_is_rejected(registry: Registry):
    registry.submit([nhr_row()])

    report = registry.submit(
        [explant(bsn=PATIENT_B, lead1_serienummer="L9001", lead2_serienummer="L9002")]
    )

    # Rejected by the TF, so the TW checks (TW-302 would apply) do not run for it.
    assert codes(report) == [(1, "serienummer", "TF-301")]
    assert report.accepted == 0


def test_an_identical_resend_raises_nothing_even_after_the_serial_moved(registry: Registry):
    first = [nhr_row()]
    registry.submit(first)
    registry.submit([explant()])
    registry.submit(
        [
            b_row(
                serienummer="ABC12345",
                procedure_datum="2026-11-18",
                opname_datum="",
                ontslag_datum="",
            )
        ]
    )

    again = registry.submit(first)

    assert codes(again) == []
    assert again.stored == Stored(unchanged=1)


def test_messages_of_the_comparison_follow_the_checks_in_record_order(registry: Registry):
    registry.submit([nhr_row()])
    rows = [
        b_row(serienummer="ABC12345", geslacht="Q"),  # F-003: rejected before any comparison
        b_row(bsn=PATIENT_C, serienummer="ABC12345", complicatie_type="POCKET"),  # W-303, TF-301
        b_row(
            bsn="010000008",
            procedure_type="2",
            serienummer="GEN00003",
            lead1_serienummer="L3001",
            lead2_serienummer="L3002",
        ),  # TW-302
    ]

    report = registry.submit(rows)

    assert codes(report) == [
        (1, "geslacht", "F-003"),
        (2, "complicatie_type", "W-303"),
        (2, "serienummer", "TF-301"),
        (3, "procedure_type", "TW-302"),
    ]
    assert (report.accepted, report.rejected) == (1, 2)
    assert report.by_code() == {"F-003": 1, "TF-301": 1, "TW-302": 1, "W-303": 1}
    assert report.code_texts["TF-301"].startswith("Serienummer van de generator")


def test_one_file_cannot_give_one_generator_to_two_patients(registry: Registry):
    later = b_row(
        serienummer="ABC12345", procedure_datum="2026-11-18", opname_datum="", ontslag_datum=""
    )

    report = registry.submit([later, nhr_row()])

    # Patient A's implant (row 2) is dated first, so the serial is A's when B's record comes.
    assert codes(report) == [(1, "serienummer", "TF-301")]
    assert report.stored == Stored(new=1)


def test_two_patients_with_one_serial_on_the_same_day_the_later_row_is_flagged(
    registry: Registry,
):
    same_day = b_row(serienummer="ABC12345", procedure_datum=nhr_row()["procedure_datum"])

    report = registry.submit([nhr_row(), same_day])

    assert codes(report) == [(2, "serienummer", "TF-301")]


def test_an_explant_earlier_in_the_file_frees_the_serial_for_another_patient(registry: Registry):
    reimplant = b_row(
        serienummer="ABC12345", procedure_datum="2026-11-18", opname_datum="", ontslag_datum=""
    )

    report = registry.submit([reimplant, explant(), nhr_row()])

    assert codes(report) == []
    assert report.stored == Stored(new=3)
