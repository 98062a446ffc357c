"""The search parameters the server supports, per resource type, and how to read them from JSON.

A path is a dotted walk over the resource's JSON; a step `extension(URL)` selects the extensions
with that url. Lists fan out. Only what the MedMij qualification searches need is here: every other
parameter is refused, so a client never mistakes an ignored filter for an applied one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["token", "reference", "date"]

NICTIZ = "http://nictiz.nl/fhir/StructureDefinition/"
PERIOD_OF_USE = f"extension({NICTIZ}zib-Medication-PeriodOfUse).valuePeriod"
TREATMENT = f"extension({NICTIZ}zib-Medication-MedicationTreatment).valueIdentifier"
#: Parameters that would name the patient in a URL; the patient comes from the token only.
PATIENT_PARAMS = frozenset({"patient", "subject"})
#: Result parameters the server understands besides the search parameters.
CONTROL_PARAMS = frozenset({"_include", "_format", "_count", "_page"})


@dataclass(frozen=True)
class SearchParam:
    name: str
    kind: Kind
    paths: tuple[str, ...]
    targets: tuple[str, ...] = ()
    #: Usable in `_include` only: `patient` and `subject` are never a search filter here.
    include_only: bool = False
    description: str = ""


def _token(name: str, *paths: str) -> SearchParam:
    return SearchParam(name, "token", paths)


def _ref(
    name: str, *paths: str, targets: tuple[str, ...], include_only: bool = False
) -> SearchParam:
    return SearchParam(name, "reference", paths, targets, include_only)


def _date(name: str, *paths: str) -> SearchParam:
    return SearchParam(name, "date", paths)


_ROLES = ("Practitioner", "PractitionerRole", "Organization")
_MEDICATION = _ref("medication", "medicationReference", targets=("Medication",))
_MED_COMMON = (
    _token("category", "category"),
    _token("identifier", "identifier"),
    _MEDICATION,
    _token("medicationtreatment", TREATMENT),
    _token("status", "status"),
)

PARAMS: dict[str, tuple[SearchParam, ...]] = {
    "Patient": (_ref("general-practitioner", "generalPractitioner", targets=_ROLES),),
    "Coverage": (
        _ref("payor", "payor", targets=("Organization", "Patient", "RelatedPerson")),
        _token("status", "status"),
    ),
    "Consent": (_token("category", "category"), _token("status", "status")),
    "Observation": (
        _token("code", "code"),
        _token("category", "category"),
        _token("status", "status"),
        _token("identifier", "identifier"),
        _date("date", "effectiveDateTime", "effectivePeriod"),
        _ref(
            "related-target",
            "related.target",
            targets=("Observation", "QuestionnaireResponse", "Sequence"),
        ),
        _ref("specimen", "specimen", targets=("Specimen",)),
    ),
    "Condition": (
        _token("category", "category"),
        _token("code", "code"),
        _token("identifier", "identifier"),
    ),
    "CarePlan": (_token("category", "category"), _token("status", "status")),
    "Procedure": (
        _token("category", "category"),
        _token("code", "code"),
        _token("identifier", "identifier"),
    ),
    "DiagnosticReport": (
        _token("category", "category"),
        _token("code", "code"),
        _token("identifier", "identifier"),
    ),
    "CareTeam": (
        _ref(
            "participant",
            "participant.member",
            targets=(
                "Practitioner",
                "PractitionerRole",
                "Organization",
                "RelatedPerson",
                "Patient",
                "CareTeam",
            ),
        ),
        _token("status", "status"),
    ),
    "MedicationRequest": (
        *_MED_COMMON,
        _date("periodofuse", PERIOD_OF_USE),
        _date("authoredon", "authoredOn"),
    ),
    "MedicationDispense": (
        *_MED_COMMON,
        _date("periodofuse", PERIOD_OF_USE),
        _date("whenhandedover", "whenHandedOver"),
        # Nictiz's Dispense 6.12 conversion searches on the date the dispense was requested.
        _date("requestdate", f"extension({NICTIZ}zib-Dispense-RequestDate).valueDateTime"),
        _ref("patient", "subject", targets=("Patient",), include_only=True),
        _ref(
            "performer", "performer.actor", targets=(*_ROLES, "Patient", "Device", "RelatedPerson")
        ),
    ),
    "MedicationStatement": (
        *_MED_COMMON,
        _date("periodofuse", "effectivePeriod"),
    ),
    "Medication": (_token("code", "code"),),
    "Encounter": (_token("class", "class"), _token("status", "status")),
    "Immunization": (_token("status", "status"),),
    "Appointment": (_token("status", "status"),),
    "ProcedureRequest": (_token("status", "status"),),
    "DeviceRequest": (
        _token("status", "status"),
        _ref("device", "codeReference", targets=("Device",)),
    ),
    "DeviceUseStatement": (_ref("device", "device", targets=("Device",)),),
    "NutritionOrder": (),
    "Flag": (),
    "AllergyIntolerance": (),
    "ImmunizationRecommendation": (),
}

#: Chained parameters, `reference.param` of the target type (Nictiz's `medication.code`).
CHAINS: dict[str, tuple[str, str]] = {"medication.code": ("medication", "code")}

#: Types that live only outside any patient compartment: read through `_include`, never searched.
SHARED_TYPES = (
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "RelatedPerson",
    "Medication",
    "Specimen",
    "Location",
    "Device",
)

#: Where a resource names its patient, in order of preference.
PATIENT_PATHS = ("subject", "patient", "beneficiary")


def params_for(resource_type: str) -> dict[str, SearchParam]:
    return {p.name: p for p in PARAMS.get(resource_type, ())}


def searchable_types() -> tuple[str, ...]:
    return tuple(t for t in PARAMS if t not in SHARED_TYPES)


def walk(node: Any, path: str) -> Iterator[Any]:
    """Every value at `path` under `node` (JSON), lists fanned out."""
    current: list[Any] = [node]
    for step in _steps(path):
        following: list[Any] = []
        for item in current:
            if not isinstance(item, dict):
                continue
            if step.startswith("extension("):
                url = step[len("extension(") : -1]
                following.extend(e for e in item.get("extension", ()) if e.get("url") == url)
                continue
            value = item.get(step)
            if isinstance(value, list):
                following.extend(value)
            elif value is not None:
                following.append(value)
        current = following
    yield from current


def _steps(path: str) -> list[str]:
    # A URL inside extension(...) holds dots: split only outside the parentheses.
    steps: list[str] = []
    depth = 0
    start = 0
    for i, char in enumerate(path):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "." and depth == 0:
            steps.append(path[start:i])
            start = i + 1
    steps.append(path[start:])
    return steps
