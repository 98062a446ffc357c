"""Index rows of a resource, derived from the search parameters of its type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zorgbroker.fhir.dates import DateFormatError, date_range, period_range
from zorgbroker.fhir.params import PATIENT_PATHS, SearchParam, params_for, walk


@dataclass(frozen=True)
class IndexRow:
    param: str
    system: str | None = None
    value: str | None = None
    low: str | None = None
    high: str | None = None


def tokens(node: Any) -> list[tuple[str | None, str]]:
    """(system, code) pairs of a CodeableConcept, Coding, Identifier or code."""
    if isinstance(node, str):
        return [(None, node)]
    if not isinstance(node, dict):
        return []
    if "coding" in node:
        return [(c.get("system"), c["code"]) for c in node["coding"] if "code" in c]
    if "code" in node:
        return [(node.get("system"), node["code"])]
    if "value" in node and isinstance(node["value"], str):
        return [(node.get("system"), node["value"])]
    return []


def _date_rows(param: SearchParam, node: Any) -> list[IndexRow]:
    try:
        if isinstance(node, str):
            low, high = date_range(node)
        elif isinstance(node, dict) and ("start" in node or "end" in node):
            low, high = period_range(node)
        else:
            return []
    except DateFormatError:
        return []
    return [IndexRow(param.name, low=low, high=high)]


def index_rows(resource: dict[str, Any]) -> list[IndexRow]:
    rows: list[IndexRow] = []
    for param in params_for(resource["resourceType"]).values():
        for path in param.paths:
            for node in walk(resource, path):
                if param.kind == "token":
                    rows.extend(IndexRow(param.name, system=s, value=v) for s, v in tokens(node))
                elif param.kind == "reference":
                    ref = node.get("reference") if isinstance(node, dict) else None
                    if ref and "/" in ref:
                        rows.append(IndexRow(param.name, value="/".join(ref.split("/")[-2:])))
                else:
                    rows.extend(_date_rows(param, node))
    return rows


def compartment(resource: dict[str, Any]) -> str | None:
    """The id of the patient whose record holds the resource, if any."""
    if resource["resourceType"] == "Patient":
        return str(resource["id"])
    for path in PATIENT_PATHS:
        for node in walk(resource, path):
            ref = node.get("reference", "") if isinstance(node, dict) else ""
            if ref.startswith("Patient/"):
                return str(ref.split("/", 1)[1])
    return None
