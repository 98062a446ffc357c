"""NEN 7513 for the upload history: every view or download of a report, or of the records an
upload touched, is written to the registry's access log (`registry.models.AccessLogEntry`) with
who did it and for which organisation.

The portal's pages and the API both write here; an entry names the upload and what was shown
(``rapport-json``, ``rapport-xlsx``, ``afgewezen-csv``...), never a value from the file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select

from zorgbroker.registry.database import write_transaction
from zorgbroker.registry.models import AccessLogEntry


@dataclass(frozen=True)
class AccessView:
    at: dt.datetime
    actor: str
    on_behalf_of: str
    action: str
    dataset: str | None
    upload_id: int | None
    detail: str | None


class UploadAccessLog:
    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def record(
        self,
        *,
        actor: str,
        on_behalf_of: str,
        action: str,
        upload_id: int,
        dataset: str | None,
        detail: str | None = None,
    ) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(
                insert(AccessLogEntry).values(
                    at=self._clock(),
                    actor=actor[:200],
                    on_behalf_of=on_behalf_of[:200],
                    action=action[:64],
                    dataset=dataset,
                    subject=None,
                    upload_id=upload_id,
                    detail=detail,
                )
            )

    def for_upload(self, upload_id: int) -> list[AccessView]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(AccessLogEntry)
                .where(AccessLogEntry.upload_id == upload_id)
                .order_by(AccessLogEntry.id)
            ).all()
        return [
            AccessView(r.at, r.actor, r.on_behalf_of, r.action, r.dataset, r.upload_id, r.detail)
            for r in rows
        ]
