"""`zorgbroker worker`: a Procrastinate worker for upload jobs, plus its upkeep.

Procrastinate (3.x) records a heartbeat per worker but does not itself hand the job of a dead
worker to another: that is left to the application, through `JobManager.get_stalled_jobs` and
`retry_job`. Every worker therefore looks for stalled jobs regularly (and once at start): a job
still "doing" whose worker has not signalled for `worker_stalled_seconds` goes back to the queue.
One worker at a time does this, under an advisory lock, so a job is never put back twice. Running
it again is safe: the upload service finds a dead attempt's upload unfinished (its transaction died
with it) and processes it again.

The same upkeep retries the mail that waits in this machine's outbox, every
`mail_retry_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import procrastinate
import psycopg

from zorgbroker.jobs.config import conninfo
from zorgbroker.jobs.queue import TASK_NAME, ensure_schema, make_app
from zorgbroker.logging import get_logger
from zorgbroker.mail.outbox import send_pending
from zorgbroker.registry.database import lock_key
from zorgbroker.settings import Settings

log = get_logger(__name__)

_REQUEUE_LOCK = lock_key("procrastinate-requeue-stalled")
#: Connections besides the running jobs': the listener, heartbeats, fetching, aborts.
_SPARE_CONNECTIONS = 4


async def requeue_stalled(app: procrastinate.App, settings: Settings) -> int:
    """Put the jobs of dead workers back in the queue; how many."""
    async with await psycopg.AsyncConnection.connect(conninfo(settings), autocommit=True) as conn:
        cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (_REQUEUE_LOCK,))
        row = await cursor.fetchone()
        if row is None or not row[0]:
            return 0  # another worker is at it right now
        try:
            stalled = list(
                await app.job_manager.get_stalled_jobs(
                    task_name=TASK_NAME, seconds_since_heartbeat=settings.worker_stalled_seconds
                )
            )
            for job in stalled:
                await app.job_manager.retry_job(job)
                log.warning("jobs.requeued", job=job.id, upload=job.task_kwargs.get("upload_id"))
            return len(stalled)
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_REQUEUE_LOCK,))


async def _upkeep_once(app: procrastinate.App, settings: Settings, *, mail: bool) -> None:
    try:
        await requeue_stalled(app, settings)
    except Exception as exc:  # the next round tries again; the worker keeps working
        log.warning("jobs.requeue_failed", error=type(exc).__name__)
    if mail:
        try:
            await asyncio.to_thread(send_pending, settings)
        except Exception as exc:
            log.warning("mail.retry_failed", error=type(exc).__name__)


async def _upkeep(app: procrastinate.App, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    every = settings.worker_stalled_seconds / 3
    next_mail = loop.time() + settings.mail_retry_seconds
    while True:
        await asyncio.sleep(every)
        mail = loop.time() >= next_mail
        if mail:
            next_mail = loop.time() + settings.mail_retry_seconds
        await _upkeep_once(app, settings, mail=mail)


async def _serve(
    settings: Settings, job: Callable[[int], object], concurrency: int, until_empty: bool
) -> None:
    app = make_app(settings, job=job, max_connections=concurrency + _SPARE_CONNECTIONS)
    stalled = settings.worker_stalled_seconds
    async with app.open_async():
        await _upkeep_once(app, settings, mail=True)
        upkeep = asyncio.create_task(_upkeep(app, settings), name="zorgbroker upkeep")
        try:
            await app.run_worker_async(
                name="zorgbroker",
                concurrency=concurrency,
                wait=not until_empty,
                update_heartbeat_interval=stalled / 3,
                stalled_worker_timeout=stalled,
                # A job put back by `requeue_stalled` brings no notification: poll for it.
                fetch_job_polling_interval=min(5.0, stalled / 3),
                install_signal_handlers=True,
            )
        finally:
            upkeep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upkeep


def run_worker(
    settings: Settings,
    *,
    job: Callable[[int], object],
    concurrency: int = 1,
    until_empty: bool = False,
) -> None:
    """Run `job(upload_id)` for queued uploads until stopped (SIGINT/SIGTERM), or until the
    queue is empty. The job is the upload service's `run`, handed over by the composition root."""
    ensure_schema(settings)
    log.info("jobs.worker_started", concurrency=concurrency)
    asyncio.run(_serve(settings, job, concurrency, until_empty))
