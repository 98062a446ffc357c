"""NEN 7513 access logging: every resource served, for which patient, to which client."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from zorgbroker.fhir.auth import Grant
from zorgbroker.fhir.models import AccessLogEntry
from zorgbroker.fhir.store import Stored
from zorgbroker.registry.database import write_transaction


@dataclass(frozen=True)
class RequestContext:
    query: str
    request_id: str | None
    correlation_id: str | None


def entries(
    grant: Grant, served: Sequence[Stored], context: RequestContext, at: dt.datetime
) -> list[dict[str, Any]]:
    return [
        {
            "at": at,
            "patient_id": grant.patient_id,
            "client_id": grant.client_id,
            "resource_type": item.resource_type,
            "resource_id": item.resource_id,
            "request_id": (context.request_id or "")[:64] or None,
            "correlation_id": (context.correlation_id or "")[:64] or None,
            "query": context.query[:2000],
            "scope": grant.scope[:255],
        }
        for item in served
    ]


@dataclass
class _Batch:
    rows: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    error: BaseException | None = None


class AccessLogWriter:
    """Writes log entries before the response goes out, committing the entries of requests that
    arrive together in one transaction (group commit): one commit costs a disk write, and under
    load that write, not the search, would otherwise set every request's latency."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._condition = threading.Condition()
        self._current = _Batch()
        self._writing = False

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Returns once `rows` are committed; raises if their transaction failed."""
        if not rows:
            return
        with self._condition:
            batch = self._current
            batch.rows.extend(rows)
            while not batch.done and self._writing:
                self._condition.wait()
            if batch.done:
                if batch.error is not None:
                    raise batch.error
                return
            # Nobody is writing: this request commits its batch and everything that joined it.
            self._writing = True
            self._current = _Batch()
        try:
            with write_transaction(self._engine) as conn:
                conn.execute(insert(AccessLogEntry), batch.rows)
        except BaseException as exc:
            batch.error = exc
            raise
        finally:
            with self._condition:
                batch.done = True
                self._writing = False
                self._condition.notify_all()


@dataclass(frozen=True)
class Access:
    at: dt.datetime
    client_id: str
    resource_type: str
    resource_id: str
    query: str
    scope: str | None = None
    request_id: str | None = None


def accesses_for(conn: Connection, patient_id: str) -> list[Access]:
    """What was served from a patient's record, newest first (for the portal)."""
    rows = conn.execute(
        select(
            AccessLogEntry.at,
            AccessLogEntry.client_id,
            AccessLogEntry.resource_type,
            AccessLogEntry.resource_id,
            AccessLogEntry.query,
            AccessLogEntry.scope,
            AccessLogEntry.request_id,
        )
        .where(AccessLogEntry.patient_id == patient_id)
        .order_by(AccessLogEntry.at.desc(), AccessLogEntry.pk.desc())
    )
    return [Access(*row) for row in rows]
