"""`dispatch`: hand an upload to whatever processes uploads in this installation.

- "inline" (the embedded default): processed right away, in this process, before `dispatch`
  returns; a caller that wants it in the background runs `dispatch` in a thread of its own.
- "procrastinate": a job in the PostgreSQL queue, for the next free `zorgbroker worker`.
"""

from __future__ import annotations

import time

from zorgbroker.jobs.config import conninfo
from zorgbroker.jobs.run import run_upload_job
from zorgbroker.registry.models import DONE, FAILED
from zorgbroker.registry.registry_db import open_registry
from zorgbroker.registry.uploads import UploadError, UploadInfo, get_upload
from zorgbroker.settings import Settings

#: Seconds between two looks at an upload's status while waiting for a worker.
POLL_SECONDS = 0.5


def processes_in_background(settings: Settings) -> bool:
    """Whether a dispatched upload is processed elsewhere (by a worker)."""
    return settings.jobs == "procrastinate"


def check_settings(settings: Settings) -> None:
    """`JobsConfigError` when uploads cannot be dispatched with these settings."""
    if processes_in_background(settings):
        conninfo(settings)


def dispatch(upload_id: int, *, settings: Settings) -> None:
    """Process the upload now (inline) or queue it for a worker (procrastinate).

    Raises `JobsConfigError` for unusable settings and `QueueUnavailable` when the queue's
    database cannot be reached; a failed upload is no exception (see `run_upload_job`).
    """
    if processes_in_background(settings):
        from zorgbroker.jobs.queue import defer_upload

        defer_upload(upload_id, settings=settings)
    else:
        run_upload_job(upload_id, settings=settings)


def wait_for_upload(
    upload_id: int, *, settings: Settings, poll_seconds: float = POLL_SECONDS
) -> UploadInfo:
    """The upload once it is done or failed (immediately so after an inline dispatch)."""
    engine = open_registry(settings)
    while True:
        info = get_upload(engine, upload_id)
        if info is None:
            raise UploadError(f"aanlevering {upload_id} bestaat niet")
        if info.status in (DONE, FAILED):
            return info
        time.sleep(poll_seconds)
