"""Which resource types each data service (GegevensdienstId) serves: a token's scope limits the
server to these. The ids are those of the shipped demo Gegevensdienstnamenlijst."""

from __future__ import annotations

#: Who is involved: shown with every data service, reachable through `_include` as well.
_SUPPORT = frozenset(
    {"Patient", "Practitioner", "PractitionerRole", "Organization", "RelatedPerson"}
)
_MEDICATION = frozenset(
    {"Medication", "MedicationDispense", "MedicationRequest", "MedicationStatement"}
)
_GGZ = frozenset(
    {
        "CarePlan", "CareTeam", "Condition", "Consent", "Coverage", "DiagnosticReport",
        "EpisodeOfCare", "Flag", "Observation", "Procedure", "ProcedureRequest", "Specimen",
    }
)  # fmt: skip
_BGZ = _MEDICATION | frozenset(
    {
        "AllergyIntolerance", "Appointment", "Condition", "Consent", "Coverage", "Device",
        "DeviceRequest", "DeviceUseStatement", "Encounter", "Flag", "Immunization",
        "ImmunizationRecommendation", "NutritionOrder", "Observation", "Procedure",
        "ProcedureRequest", "Specimen",
    }
)  # fmt: skip

#: GegevensdienstId -> the resource types it serves.
DATA_SERVICES: dict[str, frozenset[str]] = {
    "1": _SUPPORT | _BGZ,
    "3": _SUPPORT | _MEDICATION,
    "24": _SUPPORT | _GGZ,
}


def data_service_ids(scope: str) -> list[str]:
    """The data service ids in a scope `<zorgaanbiedernaam>~<id>` (several: space-separated)."""
    return [part.partition("~")[2] for part in scope.split() if "~" in part]


def resource_types(scope: str) -> frozenset[str]:
    """Every resource type the scope's data services serve; empty for an unknown data service."""
    found: frozenset[str] = frozenset()
    for service_id in data_service_ids(scope):
        found |= DATA_SERVICES.get(service_id, frozenset())
    return found
