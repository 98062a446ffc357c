"""Content negotiation (`_format` before `Accept`) and response bodies in JSON or XML."""

from __future__ import annotations

import json
from typing import Any, Literal

from zorgbroker.fhir.resources import to_xml

Format = Literal["json", "xml"]
MEDIA_TYPES: dict[Format, str] = {
    "json": "application/fhir+json;charset=utf-8",
    "xml": "application/fhir+xml;charset=utf-8",
}


def negotiate(format_param: str | None, accept: str | None) -> Format:
    for wanted in (format_param, accept):
        if not wanted:
            continue
        lowered = wanted.lower()
        if "xml" in lowered:
            return "xml"
        if "json" in lowered:
            return "json"
    return "json"


def render(resource: dict[str, Any], fmt: Format) -> bytes:
    if fmt == "xml":
        return to_xml(resource)
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()


def operation_outcome(message: str, code: str = "invalid") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
