"""Searches within one patient's compartment, as the MedMij qualification performs them.

The parameters are checked before anything is read: an unknown parameter, a `patient=` or
`subject=`, or an `_include` the server cannot follow is an error, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select

from zorgbroker.fhir.dates import DateFormatError, date_range
from zorgbroker.fhir.indexing import tokens
from zorgbroker.fhir.models import SearchIndex, StoredResource
from zorgbroker.fhir.params import (
    CHAINS,
    CONTROL_PARAMS,
    PATIENT_PARAMS,
    SearchParam,
    params_for,
    searchable_types,
)
from zorgbroker.fhir.store import Stored

DEFAULT_COUNT = 50
MAX_COUNT = 500
DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


class SearchError(Exception):
    """A search the server refuses; `message` is Dutch, for the OperationOutcome."""

    def __init__(self, message: str, status: int = 400, code: str = "invalid") -> None:
        self.message = message
        self.status = status
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Include:
    source: str
    param: SearchParam
    target: str | None


@dataclass
class Query:
    resource_type: str
    filters: list[tuple[str, list[str]]] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    page: int = 1
    lastn: bool = False
    lastn_max: int = 1


@dataclass
class Page:
    matches: list[Stored]
    included: list[Stored]
    total: int
    has_next: bool


def parse_query(resource_type: str, items: Sequence[tuple[str, str]], *, lastn: bool) -> Query:
    if resource_type not in searchable_types():
        raise SearchError(
            f"zoeken op {resource_type[:64]} wordt niet ondersteund", 404, "not-supported"
        )
    if lastn and resource_type != "Observation":
        raise SearchError("$lastn kan alleen op Observation", 404, "not-supported")
    query = Query(resource_type, lastn=lastn)
    known = params_for(resource_type)
    for name, value in items:
        base = name.split(":", 1)[0]
        if base in PATIENT_PARAMS:
            raise SearchError(
                f"de parameter '{base}' is niet toegestaan: de patiënt volgt uit het toegangstoken",
                403,
                "forbidden",
            )
        if name == "_include":
            query.includes.append(_include(resource_type, value))
        elif name in ("_format",):
            continue
        elif name == "_count":
            query.count = _positive(name, value, MAX_COUNT)
        elif name == "_page":
            query.page = _positive(name, value, 1_000_000)
        elif name == "max" and lastn:
            query.lastn_max = _positive(name, value, 100)
        elif name in CHAINS or (name in known and not known[name].include_only):
            if value == "":
                raise SearchError(f"de parameter '{name}' heeft geen waarde")
            query.filters.append((name, value.split(",")))
        elif name in CONTROL_PARAMS:
            continue
        else:
            raise SearchError(
                f"de parameter '{name[:64]}' wordt niet ondersteund voor {resource_type}"
            )
    return query


def _positive(name: str, value: str, limit: int) -> int:
    if not value.isdigit() or int(value) < 1:
        raise SearchError(f"de parameter '{name}' moet een positief geheel getal zijn")
    return min(int(value), limit)


def _include(resource_type: str, value: str) -> Include:
    parts = value.split(":")
    if len(parts) not in (2, 3) or parts[0] != resource_type:
        raise SearchError(f"_include={value[:100]} wordt niet ondersteund")
    param = params_for(resource_type).get(parts[1])
    if param is None or param.kind != "reference":
        raise SearchError(f"_include={value[:100]} wordt niet ondersteund")
    target = parts[2] if len(parts) == 3 else None
    if target is not None and target not in param.targets:
        raise SearchError(f"_include={value[:100]}: {target[:64]} is geen mogelijk doel")
    return Include(resource_type, param, target)


def _condition(resource_type: str, name: str, values: list[str]) -> ColumnElement[bool]:
    if name in CHAINS:
        via, target_param = CHAINS[name]
        inner = params_for(resource_type)[via]
        target_type = inner.targets[0]
        targets = (
            select(StoredResource.resource_type + "/" + StoredResource.resource_id)
            .join(SearchIndex, SearchIndex.resource_pk == StoredResource.pk)
            .where(
                StoredResource.resource_type == target_type,
                SearchIndex.param == target_param,
                or_(*(_token_match(v) for v in values)),
            )
        )
        return _has(via, SearchIndex.value.in_(targets))
    param = params_for(resource_type)[name]
    if param.kind == "token":
        match = or_(*(_token_match(v) for v in values))
    elif param.kind == "reference":
        match = or_(*(SearchIndex.value == v for v in values))
    else:
        match = or_(*(_date_match(name, v) for v in values))
    return _has(name, match)


def _has(param: str, match: ColumnElement[bool]) -> ColumnElement[bool]:
    # Correlated, so the database walks the patient's few resources and looks each one's values
    # up by (resource, parameter), instead of every patient's values of the parameter.
    return (
        select(SearchIndex.pk)
        .where(SearchIndex.resource_pk == StoredResource.pk, SearchIndex.param == param, match)
        .exists()
    )


def _token_match(value: str) -> ColumnElement[bool]:
    if "|" not in value:
        return SearchIndex.value == value
    system, code = value.split("|", 1)
    if system == "":
        return and_(SearchIndex.system.is_(None), SearchIndex.value == code)
    if code == "":
        return SearchIndex.system == system
    return and_(SearchIndex.system == system, SearchIndex.value == code)


def _date_match(name: str, value: str) -> ColumnElement[bool]:
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    try:
        low, high = date_range(text)
    except DateFormatError as exc:
        raise SearchError(f"de parameter '{name}' heeft geen geldige datum: {value[:40]}") from exc
    lo, hi = SearchIndex.low, SearchIndex.high
    conditions: dict[str, ColumnElement[bool]] = {
        "eq": and_(lo >= low, hi <= high),
        "ne": or_(lo < low, hi > high),
        "gt": hi > high,
        "lt": lo < low,
        "ge": hi >= low,
        "le": lo <= high,
        "sa": lo > high,
        "eb": hi < low,
    }
    return conditions[prefix]


def _stored(row: Any) -> Stored:
    return Stored(row.pk, row.resource_type, row.resource_id, row.patient_id, row.body)


def _columns() -> Any:
    return select(
        StoredResource.pk,
        StoredResource.resource_type,
        StoredResource.resource_id,
        StoredResource.patient_id,
        StoredResource.body,
    )


def run(conn: Connection, query: Query, patient_id: str) -> Page:
    where = [
        StoredResource.resource_type == query.resource_type,
        StoredResource.patient_id == patient_id,
    ]
    if query.resource_type == "Patient":
        where.append(StoredResource.resource_id == patient_id)
    where.extend(_condition(query.resource_type, n, v) for n, v in query.filters)
    if query.lastn:
        everything = [
            _stored(r) for r in conn.execute(_columns().where(*where).order_by(StoredResource.pk))
        ]
        matches = _last_n(everything, query.lastn_max)
        total = len(matches)
        offset = (query.page - 1) * query.count
        page = matches[offset : offset + query.count]
    else:
        offset = (query.page - 1) * query.count
        # The total rides along with the page (a window over every match, taken before the
        # limit): one statement instead of two, each of which costs more CPU to build and run
        # than the patient's few rows do to read.
        rows = conn.execute(
            _columns()
            .add_columns(func.count().over().label("total"))
            .where(*where)
            .order_by(StoredResource.pk)
            .offset(offset)
            .limit(query.count)
        ).all()
        page = [_stored(r) for r in rows]
        if rows:
            total = int(rows[0].total)
        else:  # past the last page, or nothing matched: no row to carry the total
            total = conn.execute(
                select(func.count()).select_from(StoredResource).where(*where)
            ).scalar_one()
    included = _included(conn, query, page, patient_id)
    return Page(page, included, total, offset + len(page) < total)


def _last_n(observations: list[Stored], keep: int) -> list[Stored]:
    """Per code, the `keep` most recent observations (by effective date, then load order)."""
    groups: dict[tuple[str | None, str], list[tuple[str, int, Stored]]] = {}
    for item in observations:
        resource = item.resource()
        codes = tokens(resource.get("code", {}))
        key = codes[0] if codes else (None, "")
        when = resource.get("effectiveDateTime") or resource.get("effectivePeriod", {}).get(
            "start", ""
        )
        moment = date_range(when)[0] if when else ""
        groups.setdefault(key, []).append((moment, item.pk, item))
    chosen: list[tuple[str, int, Stored]] = []
    for group in groups.values():
        chosen.extend(sorted(group, key=lambda e: (e[0], e[1]), reverse=True)[:keep])
    return [entry[2] for entry in sorted(chosen, key=lambda e: e[1])]


def _included(conn: Connection, query: Query, page: list[Stored], patient_id: str) -> list[Stored]:
    if not query.includes or not page:
        return []
    pks = [item.pk for item in page]
    wanted: set[tuple[str, str]] = set()
    # Every include's references in one statement.
    refs = conn.execute(
        select(SearchIndex.param, SearchIndex.value).where(
            SearchIndex.resource_pk.in_(pks),
            SearchIndex.param.in_(sorted({i.param.name for i in query.includes})),
        )
    ).all()
    for include in query.includes:
        for param, ref in refs:
            if param != include.param.name:
                continue
            kind, _, rid = (ref or "").partition("/")
            if include.target in (None, kind) and kind in include.param.targets:
                wanted.add((kind, rid))
    on_page = {(item.resource_type, item.resource_id) for item in page}
    wanted -= on_page
    if not wanted:
        return []
    found = conn.execute(
        _columns()
        .where(
            or_(
                *(
                    and_(StoredResource.resource_type == k, StoredResource.resource_id == i)
                    for k, i in sorted(wanted)
                )
            ),
            # Another patient's resource is never included, whatever a reference says.
            or_(StoredResource.patient_id.is_(None), StoredResource.patient_id == patient_id),
        )
        .order_by(StoredResource.pk)
    )
    return [_stored(r) for r in found]
