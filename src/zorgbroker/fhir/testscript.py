"""A runner for Nictiz's STU3 TestScripts, as published: it performs each test's operations
against a server and evaluates the asserts they use, then describes the run as a TestReport.

Profile validation needs the Java validator and is reported as skipped, with a count.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote

import httpx
from fhirpathpy import evaluate
from fhirpathpy.models import models
from lxml import etree

from zorgbroker.fhir.placeholders import PLACEHOLDER, shift
from zorgbroker.fhir.resources import ResourceFormatError, parse_json, parse_xml

NS = {"f": "http://hl7.org/fhir"}
RULE_URL = (
    "http://touchstone.aegis.net/touchstone/fhir/testing/StructureDefinition/testscript-assert-rule"
)
SELF_LINK_RULE = "assert-response-queryParamsInSelfLink"
MEDIA = {"xml": "application/fhir+xml", "json": "application/fhir+json"}
RESPONSE_CODES = {
    "okay": 200,
    "created": 201,
    "noContent": 204,
    "notModified": 304,
    "bad": 400,
    "forbidden": 403,
    "notFound": 404,
    "methodNotAllowed": 405,
    "conflict": 409,
    "gone": 410,
    "preconditionFailed": 412,
    "unprocessable": 422,
}
_VARIABLE = re.compile(r"\$\{([^}]+)\}")

Outcome = Literal["pass", "fail", "warning", "skip", "error"]


class TestScriptError(Exception):
    """A TestScript the runner cannot read; the message is Dutch."""


@dataclass
class ActionResult:
    kind: Literal["operation", "assert"]
    description: str
    result: Outcome
    message: str = ""


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class
    test_id: str
    name: str
    actions: list[ActionResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(a.result in ("fail", "error") for a in self.actions)


@dataclass
class ScriptResult:
    path: Path
    script_id: str
    name: str
    url: str
    tests: list[TestResult]
    started: dt.datetime

    def count(self, outcome: Outcome) -> int:
        return sum(a.result == outcome for t in self.tests for a in t.actions)

    @property
    def passed(self) -> bool:
        return not any(t.failed for t in self.tests)


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    headers: httpx.Headers
    body: dict[str, Any] | None
    body_error: str | None


def _value(element: etree._Element, name: str) -> str | None:
    found = element.find(f"f:{name}", NS)
    return None if found is None else found.get("value")


def _flag(element: etree._Element, name: str, default: bool = False) -> bool:
    value = _value(element, name)
    return default if value is None else value == "true"


class TestScriptRunner:
    __test__ = False  # not a pytest test class

    def __init__(
        self,
        client: httpx.Client,
        server: str,
        *,
        variables: dict[str, str] | None = None,
        today: dt.date | None = None,
    ) -> None:
        self.client = client
        self.server = server.rstrip("/")
        self.overrides = dict(variables or {})
        self.today = today or dt.date.today()
        self.rules: dict[str, Callable[[Exchange], str | None]] = {
            SELF_LINK_RULE: self_link_rule,
        }

    # -- variables -------------------------------------------------------------------------
    def _substitute(self, text: str, values: dict[str, str]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name == "UUID":
                return str(uuid.uuid4())
            if name in values:
                return values[name]
            dated = PLACEHOLDER.fullmatch(match.group(0))
            if dated:
                return shift(self.today, dated.group(1), int(dated.group(2))).isoformat()
            return match.group(0)

        for _ in range(5):
            replaced = _VARIABLE.sub(one, text)
            if replaced == text:
                break
            text = replaced
        return text

    def _variables(self, root: etree._Element) -> dict[str, str]:
        values: dict[str, str] = {}
        for variable in root.findall("f:variable", NS):
            name = _value(variable, "name") or ""
            if name in self.overrides:
                values[name] = self.overrides[name]
            elif _value(variable, "defaultValue") is not None:
                # Fixed once per script: a correlation id stays the same for all its requests.
                values[name] = self._substitute(_value(variable, "defaultValue") or "", values)
        for name, value in self.overrides.items():
            values.setdefault(name, value)
        return values

    # -- running ---------------------------------------------------------------------------
    def run(self, path: Path) -> ScriptResult:
        try:
            root = etree.parse(str(path)).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise TestScriptError(
                f"{path.name}: geen leesbaar TestScript ({type(exc).__name__})"
            ) from exc
        if root.tag != "{http://hl7.org/fhir}TestScript":
            raise TestScriptError(
                f"{path.name}: dit is geen TestScript maar {etree.QName(root).localname}"
            )
        values = self._variables(root)
        started = dt.datetime.now(dt.UTC)
        tests: list[TestResult] = []
        for test in root.findall("f:test", NS):
            tests.append(self._run_test(test, values))
        return ScriptResult(
            path,
            _value(root, "id") or path.stem,
            _value(root, "name") or path.stem,
            _value(root, "url") or "",
            tests,
            started,
        )

    def _run_test(self, test: etree._Element, values: dict[str, str]) -> TestResult:
        result = TestResult(test.get("id") or "", _value(test, "name") or "")
        last: Exchange | None = None
        fixtures: dict[str, Exchange] = {}
        for action in test.findall("f:action", NS):
            operation = action.find("f:operation", NS)
            check = action.find("f:assert", NS)
            if operation is not None:
                outcome, last = self._operate(operation, values)
                result.actions.append(outcome)
                response_id = _value(operation, "responseId")
                if response_id and last is not None:
                    fixtures[response_id] = last
                if outcome.result == "error":
                    break
            elif check is not None:
                outcome = self._assert(check, last, fixtures)
                result.actions.append(outcome)
                if outcome.result == "fail" and _flag(check, "stopTestOnFail"):
                    break
        return result

    def _request_url(self, operation: etree._Element, values: dict[str, str]) -> str:
        url = _value(operation, "url")
        if url:
            url = self._substitute(url, values)
            return url if "://" in url else f"{self.server}/{url.lstrip('/')}"
        resource = _value(operation, "resource") or ""
        params = self._substitute(_value(operation, "params") or "", values)
        if _flag(operation, "encodeRequestUrl"):
            params = _encode(params)
        return f"{self.server}/{resource}{params}"

    def _operate(
        self, operation: etree._Element, values: dict[str, str]
    ) -> tuple[ActionResult, Exchange | None]:
        description = _value(operation, "description") or "operatie"
        kind = operation.find("f:type/f:code", NS)
        code = kind.get("value") if kind is not None else "search"
        if code not in ("search", "read", "vread", "history"):
            return ActionResult(
                "operation", description, "skip", f"operatie '{code}' wordt niet uitgevoerd"
            ), None
        headers: dict[str, str] = {}
        accept = _value(operation, "accept")
        if accept:
            headers["Accept"] = MEDIA.get(accept, accept)
        for header in operation.findall("f:requestHeader", NS):
            field_name = _value(header, "field") or ""
            headers[field_name] = self._substitute(_value(header, "value") or "", values)
        url = self._request_url(operation, values)
        try:
            response = self.client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            reason = f"de server is niet bereikbaar ({type(exc).__name__})"
            return ActionResult("operation", description, "error", reason), None
        body, error = _body(response)
        exchange = Exchange("GET", url, response.status_code, response.headers, body, error)
        return ActionResult("operation", description, "pass", f"GET {url}"), exchange

    def _assert(
        self, check: etree._Element, last: Exchange | None, fixtures: dict[str, Exchange]
    ) -> ActionResult:
        description = _value(check, "description") or _value(check, "label") or "assert"
        warning_only = _flag(check, "warningOnly")
        if _value(check, "validateProfileId") is not None:
            reason = "profielvalidatie vraagt de Java-validator; overgeslagen"
            return ActionResult("assert", description, "skip", reason)
        source_id = _value(check, "sourceId")
        exchange = fixtures.get(source_id) if source_id else last
        if exchange is None:
            return ActionResult("assert", description, "fail", "er is geen antwoord om te toetsen")
        try:
            message = self._check(check, exchange, fixtures)
        except _Skip as skip:
            return ActionResult("assert", description, "skip", str(skip))
        if message is None:
            return ActionResult("assert", description, "pass")
        return ActionResult("assert", description, "warning" if warning_only else "fail", message)

    def _check(
        self, check: etree._Element, exchange: Exchange, fixtures: dict[str, Exchange]
    ) -> str | None:
        operator = _value(check, "operator") or "equals"
        expected = _value(check, "value")
        rule = check.find(f"f:extension[@url='{RULE_URL}']", NS)
        if rule is not None:
            rule_id = rule.find("f:extension[@url='ruleId']/f:valueId", NS)
            name = rule_id.get("value") if rule_id is not None else ""
            if name not in self.rules:
                raise _Skip(f"regel '{name}' is onbekend")
            return self.rules[name or ""](exchange)
        if _value(check, "responseCode") is not None:
            return _compare(
                str(exchange.status), operator, _value(check, "responseCode"), "statuscode"
            )
        if _value(check, "response") is not None:
            wanted = str(RESPONSE_CODES.get(_value(check, "response") or "", 0))
            return _compare(str(exchange.status), "equals", wanted, "statuscode")
        if _value(check, "resource") is not None:
            actual = (exchange.body or {}).get("resourceType", "(geen resource)")
            return _compare(str(actual), operator, _value(check, "resource"), "resourcetype")
        if _value(check, "contentType") is not None:
            wanted = _value(check, "contentType") or ""
            actual = exchange.headers.get("content-type", "")
            ok = MEDIA.get(wanted, wanted) in actual
            return None if ok else f"content-type is '{actual}', verwacht {wanted}"
        if _value(check, "headerField") is not None:
            field_name = _value(check, "headerField") or ""
            actual = exchange.headers.get(field_name)
            return _compare(actual, operator, expected, f"header {field_name}")
        if _value(check, "requestURL") is not None:
            return _compare(exchange.url, operator, _value(check, "requestURL"), "request-URL")
        if _value(check, "requestMethod") is not None:
            return _compare(
                exchange.method.lower(),
                operator,
                (_value(check, "requestMethod") or "").lower(),
                "methode",
            )
        if _value(check, "expression") is not None:
            return self._expression(check, exchange, fixtures, operator, expected)
        if _value(check, "path") is not None or _value(check, "minimumId") is not None:
            raise _Skip("XPath/JSONPath en minimumId worden niet ondersteund")
        raise _Skip("assert zonder toetsing die deze runner kent")

    def _expression(
        self,
        check: etree._Element,
        exchange: Exchange,
        fixtures: dict[str, Exchange],
        operator: str,
        expected: str | None,
    ) -> str | None:
        expression = _value(check, "expression") or ""
        if exchange.body is None:
            return f"het antwoord is geen FHIR-resource ({exchange.body_error})"
        result = fhirpath(exchange.body, expression)
        compare_id = _value(check, "compareToSourceId")
        if compare_id is not None:
            other = fixtures.get(compare_id)
            if other is None or other.body is None:
                return f"bron '{compare_id}' ontbreekt"
            other_expr = _value(check, "compareToSourceExpression") or expression
            expected = ",".join(str(v) for v in fhirpath(other.body, other_expr))
        if expected is None and _value(check, "operator") is None:
            if result == [True] or (result and not all(isinstance(r, bool) for r in result)):
                return None
            return f"expressie leverde {_short(result)}"
        actual = ",".join(str(v).lower() if isinstance(v, bool) else str(v) for v in result)
        return _compare(actual if result else None, operator, expected, "expressie")


class _Skip(Exception):
    pass


def fhirpath(resource: dict[str, Any], expression: str) -> list[Any]:
    result: list[Any] = evaluate(resource, expression, {}, models["stu3"])
    return result


def _short(result: list[Any]) -> str:
    text = json.dumps(result, default=str, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _compare(actual: str | None, operator: str, expected: str | None, what: str) -> str | None:
    wanted = expected or ""
    checks: dict[str, Callable[[], bool]] = {
        "equals": lambda: actual == wanted,
        "notEquals": lambda: actual != wanted,
        "in": lambda: actual in wanted.split(","),
        "notIn": lambda: actual not in wanted.split(","),
        "greaterThan": lambda: _number(actual) > _number(wanted),
        "lessThan": lambda: _number(actual) < _number(wanted),
        "empty": lambda: not actual,
        "notEmpty": lambda: bool(actual),
        "contains": lambda: actual is not None and wanted in actual,
        "notContains": lambda: actual is None or wanted not in actual,
    }
    if operator not in checks:
        raise _Skip(f"operator '{operator}' wordt niet ondersteund")
    if checks[operator]():
        return None
    return f"{what} is '{actual}', verwacht {operator} '{wanted}'"


def _number(text: str | None) -> float:
    try:
        return float(text or "")
    except ValueError:
        return float("nan")


def _encode(params: str) -> str:
    """Percent-encode the values of a query string as Touchstone does (`|` becomes %7C)."""
    prefix, question, query = params.partition("?")
    if not question:
        return params
    parts = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        parts.append(f"{name}{equals}{quote(value, safe='/:,$*')}")
    return f"{prefix}?{'&'.join(parts)}"


def _body(response: httpx.Response) -> tuple[dict[str, Any] | None, str | None]:
    if not response.content:
        return None, "leeg antwoord"
    try:
        if "xml" in response.headers.get("content-type", ""):
            return parse_xml(response.content), None
        return parse_json(response.content), None
    except ResourceFormatError as exc:
        return None, str(exc)


_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+/)?([A-Za-z0-9\-.]{1,64})$")


def self_link_rule(exchange: Exchange) -> str | None:
    """Nictiz's rule: every parameter of the request URL appears in the Bundle's self link, a
    reference perhaps with or without its type."""
    url = unquote(exchange.url)
    if "?" not in url:
        return None
    links = fhirpath(exchange.body or {}, "Bundle.link.where(relation = 'self').url")
    self_link = unquote(str(links[0])) if links else ""
    for pair in url.split("?", 1)[1].split("&"):
        if pair in self_link:
            continue
        name, _, value = pair.partition("=")
        reference = _REFERENCE.match(value)
        error = f"de parameter {pair} ontbreekt in de self-link"
        if reference is None:
            return error
        if reference.group(1) is None:
            if not re.search(rf"{re.escape(name)}=[A-Z][A-Za-z]+/{re.escape(value)}", self_link):
                return error
        elif f"{name}={reference.group(2)}" not in self_link:
            return error
    return None


def build_test_report(result: ScriptResult) -> dict[str, Any]:
    """The run as an STU3 TestReport."""

    def action(item: ActionResult) -> dict[str, Any]:
        detail: dict[str, Any] = {"result": item.result}
        if item.message:
            detail["message"] = item.message[:1000]
        if item.kind == "assert" and item.description:
            detail["detail"] = item.description[:1000]
        return {item.kind: detail}

    total = sum(1 for t in result.tests for a in t.actions if a.kind == "assert")
    passed = result.count("pass") - sum(
        1 for t in result.tests for a in t.actions if a.kind == "operation" and a.result == "pass"
    )
    return {
        "resourceType": "TestReport",
        "id": result.script_id[:64],
        "name": result.name,
        "status": "completed",
        "testScript": {"reference": result.url or result.path.name, "display": result.name},
        "result": "pass" if result.passed else "fail",
        "score": round(100 * passed / total, 2) if total else 100,
        "tester": "zorgbroker fhir testscript",
        "issued": result.started.isoformat(timespec="seconds"),
        "test": [
            {"id": t.test_id or None, "name": t.name, "action": [action(a) for a in t.actions]}
            if t.test_id
            else {"name": t.name, "action": [action(a) for a in t.actions]}
            for t in result.tests
        ],
    }
