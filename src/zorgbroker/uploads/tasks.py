"""How an upload job gets run, and who hears of its end: the service's dispatcher and mailer.

The job itself is `UploadService.run(upload_id)` (process, then mail). A dispatcher runs it right
away (`Inline`, the embedded default) or puts it in a queue (`zorgbroker.jobs.QueueDispatcher`),
whose worker builds its own service and runs the same job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from zorgbroker.intake.api import Report
from zorgbroker.uploads.models import UploadInfo


class Dispatcher(Protocol):
    """Hands an upload to whatever processes uploads."""

    @property
    def in_background(self) -> bool:
        """Whether the upload is processed elsewhere (by a worker), not before `dispatch`
        returns."""

    def dispatch(self, upload_id: int, job: Callable[[int], object]) -> None: ...


class Mailer(Protocol):
    def upload_finished(self, info: UploadInfo, report: Report | None) -> object:
        """Tell the uploader how the upload ended; never raises."""


class Inline:
    """The embedded dispatcher: the upload is processed before `dispatch` returns."""

    in_background = False

    def dispatch(self, upload_id: int, job: Callable[[int], object]) -> None:
        job(upload_id)


class Held:
    """A dispatcher that only remembers what it was handed (tests that process by hand)."""

    in_background = True

    def __init__(self) -> None:
        self.dispatched: list[int] = []

    def dispatch(self, upload_id: int, job: Callable[[int], object]) -> None:
        self.dispatched.append(upload_id)


class NoMail:
    """A mailer that sends nothing (mail switched off, or a test that does not look at mail)."""

    def upload_finished(self, info: UploadInfo, report: Report | None) -> object:
        return "skipped"
