"""The NEN 7513 access log of uploads: who looked at which upload's report or downloaded it,
on behalf of which organisation, and when. The registry's access log (`access_log`) holds it,
beside the imports the upload service writes there, so one table answers "who saw what"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import Engine, insert

from zorgbroker.registry.database import write_transaction
from zorgbroker.registry.models import AccessLogEntry

#: Actions written for the report (page, fragment of messages, downloads).
REPORT_VIEWED = "report_viewed"
REPORT_DOWNLOADED = "report_downloaded"


class UploadAccessLog:
    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime]) -> None:
        self._engine = engine
        self._clock = clock

    def record(
        self,
        *,
        upload_id: int,
        actor: str,
        on_behalf_of: str,
        action: str,
        dataset: str | None,
        detail: str | None = None,
    ) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(
                insert(AccessLogEntry).values(
                    at=self._clock(),
                    actor=actor[:200],
                    on_behalf_of=on_behalf_of[:200],
                    action=action,
                    dataset=dataset,
                    subject=None,
                    upload_id=upload_id,
                    detail=detail,
                )
            )
