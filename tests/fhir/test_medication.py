"""Every medication search of QUERIES.md (medication process 9.0.7) returns exactly the
resources the fixtures' own references and codes imply: the expectation is read from the files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from tests.fhir.conftest import LOAD_DATE, MEDICATION, Server, auth
from zorgbroker.fhir.store import read_resources

Resource = dict[str, Any]
SCT = "http://snomed.info/sct"
MGB = "urn:oid:2.16.840.1.113883.2.4.3.11.60.20.77.5.3"
NICTIZ = "http://nictiz.nl/fhir/StructureDefinition/"
#: (resource type, category system, code) of the five building blocks of QUERIES.md.
BLOCKS = [
    ("MedicationRequest", SCT, "16076005"),  # MedicationAgreement
    ("MedicationDispense", SCT, "422037009"),  # AdministrationAgreement
    ("MedicationRequest", SCT, "52711000146108"),  # DispenseRequest
    ("MedicationDispense", SCT, "373784005"),  # Dispense
    ("MedicationStatement", MGB, "6"),  # MedicationUse
]


@cache
def fixtures() -> tuple[Resource, ...]:
    found: list[Resource] = []
    for path in sorted(MEDICATION.joinpath("resources").glob("*.xml")):
        found.extend(read_resources(path, LOAD_DATE))
    return tuple(found)


def by_reference(reference: str) -> Resource:
    kind, rid = reference.split("/")
    return next(r for r in fixtures() if r["resourceType"] == kind and r["id"] == rid)


def key(resource: Resource) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def of_block(kind: str, system: str, code: str) -> list[Resource]:
    return [
        r
        for r in fixtures()
        if r["resourceType"] == kind
        and any(
            c.get("system") == system and c.get("code") == code
            for cat in [r.get("category", {})]
            for c in cat.get("coding", [])
        )
    ]


def medications(matches: list[Resource]) -> set[str]:
    return {m["medicationReference"]["reference"] for m in matches}


def fetch(server: Server, url: str) -> tuple[set[str], set[str], int]:
    response = server.client.get(url, headers=auth("token-dirksz"))
    assert response.status_code == 200, response.text
    bundle = response.json()
    entries = bundle.get("entry", [])
    matched = {key(e["resource"]) for e in entries if e["search"]["mode"] == "match"}
    included = {key(e["resource"]) for e in entries if e["search"]["mode"] == "include"}
    return matched, included, bundle["total"]


def expect(server: Server, url: str, matches: list[Resource], included: set[str]) -> None:
    got_matches, got_included, total = fetch(server, url)
    assert got_matches == {key(m) for m in matches}, url
    assert got_included == included, url
    assert total == len(matches)


def base_url(kind: str, system: str, code: str) -> str:
    return f"/{kind}?category={system}|{code}&_include={kind}:medication"


def test_every_block_has_resources() -> None:
    assert all(len(of_block(*block)) == 3 for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b[0]}-{b[2]}")
def test_category_with_medication_included(server: Server, block: tuple[str, str, str]) -> None:
    matches = of_block(*block)
    expect(server, base_url(*block), matches, medications(matches))


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b[0]}-{b[2]}")
def test_identifier_one_and_several(server: Server, block: tuple[str, str, str]) -> None:
    matches = of_block(*block)
    tokens = [f"{m['identifier'][0]['system']}|{m['identifier'][0]['value']}" for m in matches]
    url = base_url(*block)
    expect(server, f"{url}&identifier={tokens[0]}", matches[:1], medications(matches[:1]))
    two = ",".join(tokens[1:]).replace("|", "%7C")
    expect(server, f"{url}&identifier={two}", matches[1:], medications(matches[1:]))


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b[0]}-{b[2]}")
def test_medication_code(server: Server, block: tuple[str, str, str]) -> None:
    matches = of_block(*block)
    for reference in sorted(medications(matches)):
        coding = by_reference(reference)["code"]["coding"][-1]
        wanted = [
            m
            for m in matches
            if by_reference(m["medicationReference"]["reference"])["code"]["coding"][-1] == coding
        ]
        url = f"{base_url(*block)}&medication.code={coding['system']}|{coding['code']}"
        expect(server, url, wanted, medications(wanted))


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: f"{b[0]}-{b[2]}")
def test_medication_treatment(server: Server, block: tuple[str, str, str]) -> None:
    matches = of_block(*block)
    for match in matches:
        treatment = next(
            e["valueIdentifier"]
            for e in match["extension"]
            if e["url"] == f"{NICTIZ}zib-Medication-MedicationTreatment"
        )
        url = f"{base_url(*block)}&medicationtreatment={treatment['system']}|{treatment['value']}"
        expect(server, url, [match], medications([match]))


def period_of_use(resource: Resource) -> dict[str, str] | None:
    if resource["resourceType"] == "MedicationStatement":
        period: dict[str, str] | None = resource.get("effectivePeriod")
        return period
    for extension in resource.get("extension", []):
        if extension["url"] == f"{NICTIZ}zib-Medication-PeriodOfUse":
            found: dict[str, str] = extension["valuePeriod"]
            return found
    return None


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text[:10])


def last_day(period: dict[str, Any]) -> dt.date | None:
    """The period's last day: its end, or its start plus a duration in days or weeks."""
    if "end" in period:
        return day(period["end"])
    for extension in period.get("extension", []):
        duration = extension.get("valueDuration")
        if duration:
            days = duration["value"] * {"d": 1, "wk": 7}[duration["code"]]
            return day(period["start"]) + dt.timedelta(days=days - 1)
    return None


PERIOD_BLOCKS = [b for b in BLOCKS if any(period_of_use(r) for r in of_block(*b))]


@pytest.mark.parametrize("block", PERIOD_BLOCKS, ids=lambda b: f"{b[0]}-{b[2]}")
@pytest.mark.parametrize("offset", [-60, -49, -48, -47, -30, -10, -8, 0])
def test_period_of_use(server: Server, block: tuple[str, str, str], offset: int) -> None:
    """ge D: the period has not ended before D; le D: it started on or before D (whole days,
    as the fixtures give their periods; an open end runs on, a duration ends it)."""
    when = LOAD_DATE + dt.timedelta(days=offset)
    matches = of_block(*block)

    def selected(test: Callable[[dict[str, str]], bool]) -> list[Resource]:
        return [m for m in matches if (p := period_of_use(m)) is not None and test(p)]

    ge = selected(lambda p: (end := last_day(p)) is None or end >= when)
    le = selected(lambda p: "start" in p and day(p["start"]) <= when)
    url = base_url(*block)
    expect(server, f"{url}&periodofuse=ge{when}", ge, medications(ge))
    expect(server, f"{url}&periodofuse=le{when}", le, medications(le))
    both = [m for m in ge if m in le]
    expect(server, f"{url}&periodofuse=ge{when}&periodofuse=le{when}", both, medications(both))


@pytest.mark.parametrize("offset", [-51, -50, -49, -30, 0])
def test_when_handed_over(server: Server, offset: int) -> None:
    when = LOAD_DATE + dt.timedelta(days=offset)
    dispenses = of_block("MedicationDispense", SCT, "373784005")
    ge = [d for d in dispenses if day(d["whenHandedOver"]) >= when]
    le = [d for d in dispenses if day(d["whenHandedOver"]) <= when]
    url = base_url("MedicationDispense", SCT, "373784005")
    expect(server, f"{url}&whenhandedover=ge{when}", ge, medications(ge))
    expect(server, f"{url}&whenhandedover=le{when}", le, medications(le))


def test_dispense_conversion_with_patient_and_performer(server: Server) -> None:
    matches = of_block("MedicationDispense", SCT, "373784005") + of_block(
        "MedicationDispense", SCT, "422037009"
    )
    performers = {p["actor"]["reference"] for m in matches for p in m.get("performer", [])}
    url = (
        f"/MedicationDispense?category={SCT}|373784005,{SCT}|422037009"
        "&_include=MedicationDispense:medication&_include=MedicationDispense:patient"
        "&_include=MedicationDispense:performer"
    )
    expect(server, url, matches, medications(matches) | performers | {"Patient/XXX-DIRKSZ"})


def test_another_patient_gets_no_medication(server: Server) -> None:
    for kind, system, code in BLOCKS:
        url = base_url(kind, system, code)
        response = server.client.get(url, headers=auth("token-bals-medicatie"))
        assert response.json()["total"] == 0


def test_a_ggz_token_opens_no_medication(server: Server) -> None:
    """The scope limits the data service: consent for Basisgegevens GGZ is not consent for
    Medicatiegegevens."""
    for kind, system, code in BLOCKS:
        response = server.client.get(base_url(kind, system, code), headers=auth("token-bals"))
        assert response.status_code == 403
        assert "gegevensdienst" in response.json()["issue"][0]["diagnostics"]
