"""The production job queue: Procrastinate on the registry's PostgreSQL database.

A job names an upload and nothing else. Procrastinate hands each job to one worker at a time
(its fetch takes the row under a lock that other workers skip). The job carries the lock
"upload:<id>", and the queueing lock of the same name keeps a second job for an upload that is
still waiting out of the queue.
"""

from __future__ import annotations

from collections.abc import Callable

import procrastinate
import psycopg
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException

from zorgbroker.jobs.config import QueueSchemaError, QueueUnavailable, conninfo
from zorgbroker.jobs.schema import ensure_procrastinate_schema
from zorgbroker.logging import get_logger
from zorgbroker.settings import Settings

log = get_logger(__name__)

TASK_NAME = "zorgbroker.process_upload"
_schema_ready: set[str] = set()
#: A job that failed for want of infrastructure is tried again: 30 s, 60 s, 90 s, ... later.
_RETRY = procrastinate.RetryStrategy(
    max_attempts=5, wait=30, linear_wait=30, retry_exceptions={Exception}
)


class JobFailed(Exception):
    """A job stopped on an unexpected error; the message names only the kind of error."""


def job_lock(upload_id: int) -> str:
    return f"upload:{upload_id}"


def ensure_schema(settings: Settings) -> bool:
    """Bring Procrastinate's tables to the installed library's version, once per process;
    True when it created them or applied migrations.

    Creates them in a new database and migrates an older schema (`zorgbroker.jobs.schema`).
    Safe when several workers start at once: they take turns under an advisory lock, and the
    later ones find the work done. Raises `QueueSchemaError` (Dutch) when the schema is newer
    than this installation or a migration fails; the database is then left as it was.
    """
    info = conninfo(settings)
    if info in _schema_ready:
        return False
    outcome = ensure_procrastinate_schema(info)
    _schema_ready.add(info)
    return outcome.action in ("created", "migrated")


def make_app(
    settings: Settings,
    *,
    job: Callable[[int], object] | None = None,
    max_connections: int = 1,
) -> procrastinate.App:
    """A Procrastinate app on the registry's database; with `job` (a worker's: the upload
    service's `run`), it runs the upload task, else it only queues it."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(settings), min_size=1, max_size=max_connections
    )
    app = procrastinate.App(connector=connector)
    if job is None:
        return app

    @app.task(name=TASK_NAME, retry=_RETRY)
    def process_upload_task(upload_id: int) -> None:
        try:
            job(upload_id)
        except Exception as exc:
            # A failed upload is no exception (it is recorded and mailed); this is the
            # infrastructure failing, e.g. the database gone. Procrastinate logs the exception
            # with its traceback, and a database error's text can quote statement parameters:
            # hand it only the kind of failure.
            log.error("jobs.job_failed", upload=upload_id, error=type(exc).__name__)
            raise JobFailed(type(exc).__name__) from None

    return app


def defer_upload(upload_id: int, *, settings: Settings) -> int | None:
    """Queue the upload for a worker; the job's id, or None when it is queued already."""
    lock = job_lock(upload_id)
    try:
        ensure_schema(settings)
        with make_app(settings).open() as app:
            job_id = app.configure_task(TASK_NAME, lock=lock, queueing_lock=lock).defer(
                upload_id=upload_id
            )
    except AlreadyEnqueued:
        log.info("jobs.already_queued", upload=upload_id)
        return None
    except QueueSchemaError as exc:
        log.warning("jobs.queue_schema_refused", upload=upload_id)
        raise QueueUnavailable(
            f"aanlevering {upload_id} is ontvangen, maar kon niet in de wachtrij: {exc.message}"
        ) from None
    except (psycopg.Error, ConnectorException) as exc:
        log.warning("jobs.queue_unavailable", upload=upload_id, error=type(exc).__name__)
        raise QueueUnavailable(
            f"aanlevering {upload_id} is ontvangen, maar kon niet in de wachtrij "
            f"({type(exc).__name__}); de database is niet bereikbaar"
        ) from None
    log.info("jobs.deferred", upload=upload_id, job=job_id)
    return job_id
