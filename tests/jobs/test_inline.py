"""The embedded default: an upload is processed by the process that submits it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.jobs.conftest import attempts, submit, upload
from tests.registry.conftest import Registry, nhr_row
from zorgbroker.cli import app
from zorgbroker.composition import upload_service
from zorgbroker.jobs import processes_in_background
from zorgbroker.jobs.config import JobsConfigError
from zorgbroker.mail.mailbox import list_mailbox
from zorgbroker.settings import get_settings


def test_inline_dispatch_has_processed_the_upload_when_it_returns(inline_registry: Registry):
    upload_id = submit(inline_registry, inline_registry.nhr_file([nhr_row()]))
    assert upload(inline_registry, upload_id).status == "queued"
    assert not processes_in_background(inline_registry.settings)

    inline_registry.dispatch(upload_id)

    info = upload(inline_registry, upload_id)
    assert info.status == "done" and attempts(inline_registry, upload_id) == 1
    assert inline_registry.held().height == 1
    assert inline_registry.service().wait(upload_id).status == "done"
    assert len(list_mailbox(inline_registry.settings)) == 1


def test_a_done_upload_is_neither_processed_nor_mailed_again(inline_registry: Registry):
    upload_id = submit(inline_registry, inline_registry.nhr_file([nhr_row()]))
    inline_registry.dispatch(upload_id)

    assert inline_registry.service().run(upload_id) == "done"
    assert inline_registry.service().run(999) is None

    assert attempts(inline_registry, upload_id) == 1
    assert len(list_mailbox(inline_registry.settings)) == 1


def test_the_queue_needs_postgresql(inline_registry: Registry, monkeypatch: pytest.MonkeyPatch):
    upload_id = submit(inline_registry, inline_registry.nhr_file([nhr_row()]))
    monkeypatch.setenv("ZORGBROKER_JOBS", "procrastinate")
    settings = get_settings(fresh=True)

    with pytest.raises(JobsConfigError, match="alleen met PostgreSQL"):
        upload_service(settings).dispatch(upload_id)
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "alleen met PostgreSQL" in result.stderr


def test_submit_cannot_leave_without_a_queue(inline_registry: Registry):
    path = inline_registry.nhr_file([nhr_row()])
    result = CliRunner().invoke(app, ["submit", str(path), "--dataset", "nhr-pmicd",
                                      "--organisation", "01234567", "--mode", "production",
                                      "--no-wait"])  # fmt: skip
    assert result.exit_code == 2
    assert "--no-wait kan alleen met een wachtrij" in result.stderr
    assert inline_registry.scalar("SELECT count(*) FROM uploads") == 0
