"""Handing an upload to whatever processes uploads in this installation.

- "inline" (the embedded default): processed right away, in the submitting process, before the
  dispatch returns (`zorgbroker.uploads.tasks.Inline`).
- "procrastinate": a job in the PostgreSQL queue, for the next free `zorgbroker worker`
  (`QueueDispatcher`).
"""

from __future__ import annotations

from collections.abc import Callable

from zorgbroker.jobs.config import conninfo
from zorgbroker.settings import Settings


def processes_in_background(settings: Settings) -> bool:
    """Whether a dispatched upload is processed elsewhere (by a worker)."""
    return settings.jobs == "procrastinate"


def check_settings(settings: Settings) -> None:
    """`JobsConfigError` when uploads cannot be dispatched with these settings."""
    if processes_in_background(settings):
        conninfo(settings)


class QueueDispatcher:
    """Queues the upload for a worker; `QueueUnavailable` when the queue's database cannot be
    reached (the upload stays queued, and is taken when it is dispatched again)."""

    in_background = True

    def __init__(self, settings: Settings) -> None:
        check_settings(settings)
        self._settings = settings

    def dispatch(self, upload_id: int, job: Callable[[int], object]) -> None:
        from zorgbroker.jobs.queue import defer_upload

        defer_upload(upload_id, settings=self._settings)
