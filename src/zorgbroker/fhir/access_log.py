"""NEN 7513 access logging: every resource served, for which patient, to which client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from zorgbroker.fhir.auth import Grant
from zorgbroker.fhir.models import AccessLogEntry
from zorgbroker.fhir.store import Stored


@dataclass(frozen=True)
class RequestContext:
    query: str
    request_id: str | None
    correlation_id: str | None


def record(
    conn: Connection,
    grant: Grant,
    served: Sequence[Stored],
    context: RequestContext,
    at: dt.datetime,
) -> None:
    if not served:
        return
    conn.execute(
        insert(AccessLogEntry),
        [{"at": at, "patient_id": grant.patient_id, "client_id": grant.client_id,
          "resource_type": item.resource_type, "resource_id": item.resource_id,
          "request_id": (context.request_id or "")[:64] or None,
          "correlation_id": (context.correlation_id or "")[:64] or None,
          "query": context.query[:2000]} for item in served],
    )  # fmt: skip


@dataclass(frozen=True)
class Access:
    at: dt.datetime
    client_id: str
    resource_type: str
    resource_id: str
    query: str


def accesses_for(conn: Connection, patient_id: str) -> list[Access]:
    """What was served from a patient's record, newest first (for the portal)."""
    rows = conn.execute(
        select(AccessLogEntry.at, AccessLogEntry.client_id, AccessLogEntry.resource_type,
               AccessLogEntry.resource_id, AccessLogEntry.query)
        .where(AccessLogEntry.patient_id == patient_id)
        .order_by(AccessLogEntry.at.desc(), AccessLogEntry.pk.desc())
    )  # fmt: skip
    return [Access(*row) for row in rows]
