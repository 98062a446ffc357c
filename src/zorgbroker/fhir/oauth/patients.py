"""What the portal's patient pages need: which patient an account is, the consent steps of the
authorisation server, and the access log told as "who fetched what, when"."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from zorgbroker.fhir.access_log import Access, accesses_for
from zorgbroker.fhir.oauth.server import AuthorizationService, ConsentRequest
from zorgbroker.fhir.oauth.store import OAuthStore


@dataclass(frozen=True)
class Fetch:
    """One request of a PGO: when, who, for which data service, and what was served."""

    at: dt.datetime
    client_name: str
    data_services: list[str]
    #: (resource type, how many), most first.
    resources: list[tuple[str, int]]


def fetches(accesses: Sequence[Access], authorization: AuthorizationService) -> list[Fetch]:
    """The log's entries grouped by request (entries of one request share time, client, scope
    and query), newest first as the log is."""
    groups: dict[tuple[dt.datetime, str, str | None, str], Counter[str]] = {}
    for access in accesses:
        key = (access.at, access.client_id, access.scope, access.query)
        groups.setdefault(key, Counter())[access.resource_type] += 1
    return [
        Fetch(
            at,
            authorization.client_name(client_id),
            authorization.data_service_names(scope),
            sorted(counts.items(), key=lambda item: (-item[1], item[0])),
        )
        for (at, client_id, scope, _), counts in groups.items()
    ]


class PatientAccess:
    def __init__(self, engine: Engine, authorization: AuthorizationService) -> None:
        self.engine = engine
        self.authorization = authorization
        self.store: OAuthStore = authorization.store

    def patient_of(self, user_id: int) -> str | None:
        return self.store.patient_of(user_id)

    def consent_request(self, items: Sequence[tuple[str, str]]) -> ConsentRequest:
        return self.authorization.consent_request(items)

    def decide(self, items: Sequence[tuple[str, str]], patient_id: str | None) -> str:
        return self.authorization.decide(items, patient_id)

    def fetches(self, patient_id: str) -> list[Fetch]:
        with self.engine.connect() as conn:
            return fetches(accesses_for(conn, patient_id), self.authorization)
