"""Parsing and serialising STU3 resources (fhir.resources), and what a response never holds."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.STU3 import get_fhir_model_class
from lxml import etree
from pydantic import ValidationError

BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
FHIR_NS = "{http://hl7.org/fhir}"


class ResourceFormatError(ValueError):
    """Not a readable FHIR STU3 resource; the message is Dutch and names no values."""


def _model(resource_type: str) -> Any:
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError) as exc:
        raise ResourceFormatError(f"onbekend resourcetype '{resource_type[:64]}'") from exc


def _validated(model: Any, parse: Any) -> dict[str, Any]:
    try:
        instance = parse()
    except (ValidationError, ValueError, etree.XMLSyntaxError) as exc:
        raise ResourceFormatError(f"geen geldige {model.__name__}: {_first_error(exc)}") from exc
    result: dict[str, Any] = json.loads(instance.model_dump_json())
    return result


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors:
            where = ".".join(str(p) for p in errors[0].get("loc", ()))
            return f"veld {where}: {errors[0].get('msg', '')}"[:200]
    return type(exc).__name__


def parse_xml(data: bytes) -> dict[str, Any]:
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError as exc:
        raise ResourceFormatError(f"geen geldige XML (regel {exc.lineno})") from exc
    tag = str(root.tag)
    if not tag.startswith(FHIR_NS):
        raise ResourceFormatError(
            "het XML-element hoort niet bij FHIR (namespace http://hl7.org/fhir)"
        )
    model = _model(tag[len(FHIR_NS) :])
    return _validated(model, lambda: model.model_validate_xml(data))


def parse_json(data: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResourceFormatError("geen geldige JSON") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("resourceType"), str):
        raise ResourceFormatError("JSON zonder resourceType")
    model = _model(raw["resourceType"])
    return _validated(model, lambda: model.model_validate(raw))


def to_xml(resource: dict[str, Any]) -> bytes:
    model = _model(resource["resourceType"])
    result: bytes = model.model_validate(resource).model_dump_xml()
    return result


def without_bsn(node: Any) -> Any:
    """A copy of `node` with every Identifier of the BSN system left out: a personal health
    environment never receives the BSN (MedMij), wherever the resource carries it."""
    if isinstance(node, list):
        return [without_bsn(item) for item in node if not _is_bsn(item)]
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if _is_bsn(value):
                continue
            out[key] = without_bsn(value)
        return out
    return node


def _is_bsn(node: Any) -> bool:
    return isinstance(node, dict) and node.get("system") == BSN_SYSTEM and "value" in node
