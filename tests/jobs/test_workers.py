"""Procrastinate workers on PostgreSQL: each job once, a dead worker's job done by another."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.jobs.conftest import Workers, attempts, submit, upload, wait_until
from tests.mail.conftest import SmtpServer, smtp_settings
from tests.registry.conftest import Registry, nhr_row, valid_bsns
from zorgbroker.cli import app
from zorgbroker.intake.report.model import Stored
from zorgbroker.jobs import queue as job_queue
from zorgbroker.mail.mailbox import list_mailbox, read_message
from zorgbroker.mail.message import UPLOAD_HEADER
from zorgbroker.mail.outbox import pending
from zorgbroker.registry.crash_point import PAUSE_ENV

pytestmark = pytest.mark.postgres


def rows(count: int, start: int = 10_000_000) -> list[dict[str, str]]:
    """`count` first implants of different patients, each with devices of their own."""
    return [
        nhr_row(bsn=bsn, serienummer=f"GEN{start + i}", lead1_serienummer=f"LA{start + i}",
                lead2_serienummer=f"LB{start + i}")
        for i, bsn in enumerate(valid_bsns(count, start=start))
    ]  # fmt: skip


def jobs_by_status(registry: Registry) -> dict[str, int]:
    found = registry.scalar(
        "SELECT json_object_agg(status, n) FROM "
        "(SELECT status, count(*) AS n FROM procrastinate_jobs GROUP BY status) s"
    )
    return dict(found or {})


def job_events(registry: Registry) -> list[str]:
    """What happened to the (only) job, in order."""
    found = registry.scalar(
        "SELECT json_agg(type::text ORDER BY id) FROM procrastinate_events "
        "WHERE type <> 'scheduled'"
    )
    return list(found or [])


def mailed_uploads(registry: Registry) -> list[int]:
    return sorted(int(read_message(e.path)[UPLOAD_HEADER]) for e in list_mailbox(registry.settings))


def test_the_schema_is_applied_once_and_a_second_time_harmlessly(queue_registry: Registry):
    job_queue.ensure_schema(queue_registry.settings)
    job_queue._schema_ready.clear()  # as a second process would find it

    assert job_queue.ensure_schema(queue_registry.settings) is False
    assert queue_registry.scalar("SELECT to_regclass('procrastinate_jobs')") is not None


def test_an_upload_waiting_in_the_queue_is_queued_once(queue_registry: Registry):
    upload_id = submit(queue_registry, queue_registry.nhr_file([nhr_row()]))

    first = job_queue.defer_upload(upload_id, settings=queue_registry.settings)
    second = job_queue.defer_upload(upload_id, settings=queue_registry.settings)

    assert first is not None and second is None
    assert jobs_by_status(queue_registry) == {"todo": 1}
    assert upload(queue_registry, upload_id).status == "queued"


@pytest.mark.slow
def test_several_workers_process_each_queued_upload_exactly_once(
    queue_registry: Registry, workers: Workers
):
    started = [workers.start("--concurrency", "2") for _ in range(2)]
    ids = [
        submit(queue_registry, queue_registry.nhr_file(rows(5, start=10_000_000 + 100 * n)))
        for n in range(6)
    ]
    for upload_id in ids:
        queue_registry.dispatch(upload_id)

    wait_until(
        lambda: jobs_by_status(queue_registry) == {"succeeded": len(ids)}, "every job", workers
    )

    assert all(upload(queue_registry, i).status == "done" for i in ids)
    assert [attempts(queue_registry, i) for i in ids] == [1] * len(ids)
    assert [queue_registry.service().report(i).stored for i in ids] == [Stored(new=5)] * 6
    assert queue_registry.held().height == 30
    assert mailed_uploads(queue_registry) == ids
    for process in started:
        output = workers.stop(process)
        assert process.returncode == 0, output
        assert "Worker gestopt." in output


@pytest.mark.slow
def test_a_worker_killed_during_an_import_leaves_nothing_and_another_worker_completes_it(
    queue_registry: Registry, workers: Workers, tmp_path: Path
):
    upload_id = submit(queue_registry, queue_registry.nhr_file(rows(600)))
    queue_registry.dispatch(upload_id)
    pause = tmp_path / "pause"
    reached = Path(f"{pause}.reached")
    doomed = workers.start(**{PAUSE_ENV: str(pause), "ZORGBROKER_IMPORT_BATCH_ROWS": "100"})
    wait_until(reached.exists, "the import's pause point", workers)
    assert 0 < int(reached.read_text()) < 600  # part of the records written, not committed
    assert queue_registry.held().height == 0

    doomed.send_signal(signal.SIGKILL)
    doomed.wait()

    assert queue_registry.held().height == 0
    assert upload(queue_registry, upload_id).status == "processing"
    assert jobs_by_status(queue_registry) == {"doing": 1}
    assert list_mailbox(queue_registry.settings) == []

    rescuer = workers.start()
    wait_until(
        lambda: upload(queue_registry, upload_id).status == "done", "the retried upload", workers
    )

    assert queue_registry.held().height == 600
    assert queue_registry.service().report(upload_id).stored == Stored(new=600)
    info = upload(queue_registry, upload_id)
    assert attempts(queue_registry, upload_id) == 2 and info.stored_file is None
    wait_until(lambda: jobs_by_status(queue_registry) == {"succeeded": 1}, "the job", workers)
    assert mailed_uploads(queue_registry) == [upload_id]
    assert workers.stop(rescuer)  # it said something (that it started and stopped)
    assert job_events(queue_registry) == [
        "deferred", "started", "deferred_for_retry", "started", "succeeded"
    ]  # fmt: skip


@pytest.mark.slow
def test_workers_send_the_waiting_mail_once_the_server_is_back(
    queue_registry: Registry, workers: Workers, smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
):  # fmt: skip
    for name, value in {**smtp_settings(smtp_server), "mail_to": "register@example.nl",
                        "mail_retry_seconds": "1"}.items():  # fmt: skip
        monkeypatch.setenv(f"ZORGBROKER_{name.upper()}", value)
    for _ in range(2):
        workers.start()
    ids = [submit(queue_registry, queue_registry.nhr_file([nhr_row()]), mode="test")
           for _ in range(3)]  # fmt: skip
    for upload_id in ids:
        queue_registry.dispatch(upload_id)
    wait_until(
        lambda: len(pending(queue_registry.settings)) == 3, "three mails in the outbox", workers
    )
    assert all(upload(queue_registry, i).status == "done" for i in ids)

    smtp_server.start()
    wait_until(lambda: not pending(queue_registry.settings), "an empty outbox", workers)

    received = sorted(int(m[UPLOAD_HEADER]) for m in smtp_server.inbox.messages)
    assert received == ids


def submit_command(path: Path, *extra: str) -> list[str]:
    return ["submit", str(path), "--dataset", "nhr-pmicd", "--organisation", "01234567",
            "--mode", "production", "--peildatum", "2026-11-22", *extra]  # fmt: skip


def test_submit_without_waiting_prints_the_id_and_a_worker_processes_it(
    queue_registry: Registry,
):
    runner = CliRunner()
    submitted = runner.invoke(
        app, submit_command(queue_registry.nhr_file([nhr_row()]), "--no-wait")
    )

    assert submitted.exit_code == 0, submitted.output
    upload_id = int(submitted.stdout.strip())
    assert "staat in de wachtrij" in submitted.stderr
    assert upload(queue_registry, upload_id).status == "queued"

    worked = runner.invoke(app, ["worker", "--until-empty"])

    assert worked.exit_code == 0, worked.output
    assert upload(queue_registry, upload_id).status == "done"
    assert queue_registry.held().height == 1


@pytest.mark.slow
def test_submit_waits_for_a_worker_and_prints_the_report(
    queue_registry: Registry, workers: Workers
):
    workers.start()
    result = CliRunner().invoke(
        app, submit_command(queue_registry.nhr_file([nhr_row()]), "--format", "json")
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["summary"]["stored"] == {"new": 1, "updated": 0,
                                                             "unchanged": 0}  # fmt: skip
    assert "Wachten op een worker" in result.stderr
