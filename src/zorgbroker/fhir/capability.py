"""The CapabilityStatement: exactly the types, searches and includes this server supports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from zorgbroker.fhir.params import CHAINS, params_for, searchable_types

_TYPES = {"token": "token", "reference": "reference", "date": "date"}


def capability_statement(today: dt.date) -> dict[str, Any]:
    resources = []
    for kind in searchable_types():
        params = params_for(kind)
        entry: dict[str, Any] = {
            "type": kind,
            "interaction": [{"code": "search-type"}],
            "searchInclude": [
                f"{kind}:{p.name}" + (f":{t}" if len(p.targets) > 1 else "")
                for p in params.values()
                if p.kind == "reference"
                for t in (p.targets if len(p.targets) > 1 else (p.targets[0],))
            ],
            "searchParam": [
                {"name": p.name, "type": _TYPES[p.kind]}
                for p in params.values()
                if not p.include_only
            ]
            + [
                {"name": chain, "type": "token"}
                for chain in CHAINS
                if chain.split(".")[0] in params
            ],
        }
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": today.isoformat(),
        "publisher": "zorgbroker",
        "kind": "instance",
        "software": {"name": "zorgbroker"},
        "fhirVersion": "3.0.2",
        "acceptUnknown": "no",
        "format": ["application/fhir+xml", "application/fhir+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "De patiënt volgt uit het toegangstoken; de parameters patient en subject "
                    "worden geweigerd. Onbekende parameters en _include-waarden geven 400."
                ),
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://hl7.org/fhir/restful-security-service",
                                    "code": "OAuth",
                                    "display": "OAuth",
                                }
                            ],
                            "text": "OAuth2 bearer token (MedMij)",
                        }
                    ]
                },
                "resource": resources,
                "operation": [
                    {
                        "name": "lastn",
                        "definition": {
                            "reference": "http://hl7.org/fhir/OperationDefinition/Observation-lastn"
                        },
                    }
                ],
            }
        ],
    }
