"""MedMij's lists as XML: the Zorgaanbiederslijst (ZAL), the OAuth Client List (OCL) and the
Gegevensdienstnamenlijst (GNL), each validated against its schema before anything is read.

A list that is not well-formed or does not match its schema gives a `ListError` whose Dutch
message names the file, the line and the element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

SCHEMAS = Path(__file__).resolve().parent / "schemas"
#: The demo lists shipped with zorgbroker (one practice, two PGOs, three data services).
DEMO_LISTS = Path(__file__).resolve().parent / "demo"

ZAL_NS = "xmlns://afsprakenstelsel.medmij.nl/zorgaanbiederslijst/release2/"
OCL_NS = "xmlns://afsprakenstelsel.medmij.nl/oauthclientlist/release2/"
GNL_NS = "xmlns://afsprakenstelsel.medmij.nl/gegevensdienstnamenlijst/release1/"


class ListError(ValueError):
    """A MedMij list that cannot be used; the message is Dutch and names file and element."""


@dataclass(frozen=True)
class DataServiceEndpoints:
    data_service_id: str
    authorization_endpoint: str
    token_endpoint: str


@dataclass(frozen=True)
class Provider:
    """A provider of the ZAL: its name (with @medmij) and the data services it offers."""

    name: str
    data_services: dict[str, DataServiceEndpoints]

    @property
    def scope_name(self) -> str:
        """The name as a scope carries it: without the @medmij suffix."""
        return self.name.removesuffix("@medmij")


@dataclass(frozen=True)
class MedMijLists:
    providers: dict[str, Provider]
    #: OCL: hostname -> organisation name shown to the patient.
    clients: dict[str, str]
    #: GNL: data service id -> display name.
    data_service_names: dict[str, str]


@cache
def _schema(name: str) -> Any:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _validated(path: Path, schema_name: str, kind: str) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ListError(f"{path.name}: kan de {kind} niet lezen ({exc.strerror})") from exc
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ListError(f"{path.name}: geen geldige XML (regel {exc.lineno})") from exc
    if root.getroottree().docinfo.doctype:
        # MedMij's lists have no DTD; one could only serve entity tricks (XXE, expansion).
        raise ListError(f"{path.name}: een DOCTYPE is in een MedMij-lijst niet toegestaan")
    schema = _schema(schema_name)
    if not schema.validate(root):
        error = schema.error_log[0]
        element = _element_name(error.message, error.path) or _local(str(root.tag))
        raise ListError(
            f"{path.name}: de {kind} klopt niet met het schema: regel {error.line}, element "
            f"{element}: {_dutch(error.message)}"
        )
    return root


def _element_name(message: str, xpath: str | None) -> str:
    """The element libxml2's message names ("Element '{ns}Hostname': ..."), else the last step
    of its path when that has a name."""
    found = re.match(r"Element '(?:\{[^}]*\})?([^']+)'", message)
    if found:
        return found.group(1)
    step = (xpath or "").rsplit("/", 1)[-1].split(":", 1)[-1].split("[", 1)[0]
    return "" if step in ("", "*") else step


def _dutch(message: str) -> str:
    """lxml's English message, with the usual cases said in Dutch; namespaces left out."""
    text = message.replace(f"{{{ZAL_NS}}}", "").replace(f"{{{OCL_NS}}}", "")
    text = text.replace(f"{{{GNL_NS}}}", "")
    if "This element is not expected" in text:
        expected = text.split("Expected is", 1)[-1].strip(" ().")
        return "dit element hoort hier niet" + (f" (verwacht: {expected})" if expected else "")
    if "Missing child element" in text:
        expected = text.split("Expected is", 1)[-1].strip(" ().")
        return f"een verplicht onderdeel ontbreekt ({expected})"
    if "[facet" in text or "is not a valid value" in text:
        return "de waarde heeft niet de vorm die het schema vraagt"
    if "Duplicate key-sequence" in text:
        return "deze waarde komt twee keer voor"
    if "No matching global declaration" in text:
        return "dit is niet het verwachte soort lijst (naamruimte of hoofdelement)"
    return text


def _text(node: Any, path: str, ns: str) -> str:
    found = node.find(path.replace("x:", f"{{{ns}}}"))
    return "" if found is None or found.text is None else str(found.text).strip()


def read_zal(path: Path) -> dict[str, Provider]:
    root = _validated(path, "MedMij_Zorgaanbiederslijst.xsd", "zorgaanbiederslijst")
    providers: dict[str, Provider] = {}
    for node in root.iterfind(f"{{{ZAL_NS}}}Zorgaanbieders/{{{ZAL_NS}}}Zorgaanbieder"):
        services = {}
        for service in node.iterfind(f"{{{ZAL_NS}}}Gegevensdiensten/{{{ZAL_NS}}}Gegevensdienst"):
            service_id = _text(service, "x:GegevensdienstId", ZAL_NS)
            services[service_id] = DataServiceEndpoints(
                service_id,
                _text(service, "x:AuthorizationEndpoint/x:AuthorizationEndpointuri", ZAL_NS),
                _text(service, "x:TokenEndpoint/x:TokenEndpointuri", ZAL_NS),
            )
        name = _text(node, "x:Zorgaanbiedernaam", ZAL_NS)
        providers[name] = Provider(name, services)
    return providers


def read_ocl(path: Path) -> dict[str, str]:
    root = _validated(path, "MedMij_OAuthclientlist.xsd", "OAuth-clientlijst")
    return {
        _text(node, "x:Hostname", OCL_NS): _text(node, "x:OAuthclientOrganisatienaam", OCL_NS)
        for node in root.iterfind(f"{{{OCL_NS}}}OAuthclients/{{{OCL_NS}}}OAuthclient")
    }


def read_gnl(path: Path) -> dict[str, str]:
    root = _validated(path, "MedMij_Gegevensdienstnamenlijst.xsd", "gegevensdienstnamenlijst")
    return {
        _text(node, "x:GegevensdienstId", GNL_NS): _text(node, "x:Weergavenaam", GNL_NS)
        for node in root.iterfind(f"{{{GNL_NS}}}Gegevensdiensten/{{{GNL_NS}}}Gegevensdienst")
    }


def read_lists(folder: Path) -> MedMijLists:
    """The three lists from `folder` (zal.xml, ocl.xml, gnl.xml)."""
    return MedMijLists(
        read_zal(folder / "zal.xml"), read_ocl(folder / "ocl.xml"), read_gnl(folder / "gnl.xml")
    )
