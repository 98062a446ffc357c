"""All or nothing: a killed import leaves no records behind and a retry completes; the same file
submitted twice at once is stored once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from tests.concurrently import at_once
from tests.registry.conftest import TODAY, Registry, nhr_row, valid_bsns
from tests.stage1 import make_ttp_unusable
from zorgbroker.composition import open_registry
from zorgbroker.intake.api import Report, Stored
from zorgbroker.registry.crash_point import PAUSE_ENV
from zorgbroker.registry.layout import layout_for


def many_rows(count: int) -> list[dict[str, str]]:
    """`count` first implants of different patients with devices of their own."""
    return [
        nhr_row(bsn=bsn, serienummer=f"GEN{i:07d}", lead1_serienummer=f"LA{i:07d}",
                lead2_serienummer=f"LB{i:07d}")
        for i, bsn in enumerate(valid_bsns(count))
    ]  # fmt: skip


def test_two_simultaneous_submits_of_one_file_store_it_once(registry: Registry):
    path = registry.nhr_file(many_rows(200))

    def submit() -> tuple[int, Report]:
        upload_id = registry.receive(path)
        return upload_id, registry.process(upload_id)

    results = at_once(submit)

    assert registry.held().height == 200
    stored = sorted((r.stored for _, r in results), key=lambda s: (s.new, s.unchanged))
    if results[0][0] == results[1][0]:  # the second submit joined the first upload
        assert stored == [Stored(new=200), Stored(new=200)]
    else:  # or came after it and found everything there already
        assert stored == [Stored(unchanged=200), Stored(new=200)]


def _wait_for(path: Path, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the import ended before its pause point:\n{err.decode()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the import never reached its pause point")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("rebuild", [False, True], ids=["appended", "indexes-rebuilt"])
def test_an_import_killed_midway_leaves_nothing_and_a_retry_completes(
    registry: Registry, tmp_path: Path, rebuild: bool
):
    if rebuild and registry.backend != "postgres":
        pytest.skip("only PostgreSQL drops and rebuilds indexes for a large import")
    path = registry.nhr_file(many_rows(3000))
    tables_before = _tables(registry)
    pause = tmp_path / "pause"
    env = {**os.environ, PAUSE_ENV: str(pause), "ZORGBROKER_IMPORT_BATCH_ROWS": "500"}
    # With `rebuild`, killed while the import has dropped the table's indexes to build them
    # again after its COPY, as a large import does on PostgreSQL (importer._bulk_indexes).
    threshold = 1 if rebuild else 10**9
    start = (
        "import zorgbroker.registry.importer as importer; "
        f"importer.REBUILD_FROM_ROWS = {threshold}; from zorgbroker.cli import main; main()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", start, "submit", str(path),
         "--dataset", "nhr-pmicd", "--organisation", "01234567", "--mode", "production",
         "--peildatum", TODAY.isoformat()],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for(Path(f"{pause}.reached"), process, seconds=300)
        written = int(Path(f"{pause}.reached").read_text())
        assert 0 < written < 3000  # inside the import: part of the records written, uncommitted
        if not rebuild:  # (with its indexes dropped, readers of the table wait for the commit)
            assert registry.held().height == 0  # nobody else sees them
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    assert registry.held().height == 0
    assert _tables(registry) == tables_before  # the dropped indexes are back, the key too
    engine_upload = registry.get(1)
    assert engine_upload is not None
    assert engine_upload.status == "processing"  # what a dead worker leaves: a retryable upload
    assert engine_upload.stored_file is not None
    assert (registry.settings.home / engine_upload.stored_file).is_file()

    report = registry.process(1)

    assert report.stored == Stored(new=3000)
    assert registry.held().height == 3000
    done = registry.get(1)
    assert done is not None and done.status == "done" and done.stored_file is None
    assert not (registry.settings.home / engine_upload.stored_file).exists()
    assert registry.process(1).stored == Stored(new=3000)
    assert registry.held().height == 3000


def _tables(registry: Registry) -> list[tuple[str, list[str], list[str]]]:
    """Each table with its primary key's columns and its indexes' names."""
    with _engine(registry).connect() as conn:
        inspector = inspect(conn)
        return [
            (name, inspector.get_pk_constraint(name)["constrained_columns"],
             sorted(str(i["name"]) for i in inspector.get_indexes(name)))
            for name in sorted(inspector.get_table_names())
        ]  # fmt: skip


def _engine(registry: Registry):  # type: ignore[no-untyped-def]
    return open_registry(registry.settings)


def test_a_failed_upload_is_marked_failed_and_can_be_processed_again(registry: Registry):
    upload_id = registry.receive(registry.nhr_file([nhr_row()]))
    # The TTP's folder is unusable: pseudonymisation fails, the upload fails, nothing is stored.
    restore = make_ttp_unusable(registry.settings.home)
    from zorgbroker.uploads.errors import ProcessingFailed

    with pytest.raises(ProcessingFailed) as failure:
        registry.process(upload_id)
    assert "opnieuw" in failure.value.message
    info = registry.get(upload_id)
    assert info is not None and info.status == "failed" and info.error
    assert registry.held().height == 0

    restore()
    report = registry.process(upload_id)
    assert report.stored == Stored(new=1)


def _held_rows(registry: Registry) -> int:
    return int(registry.scalar(f"SELECT COUNT(*) FROM {layout_for('nhr-pmicd').main.sql_name}"))


def test_the_ttp_store_is_written_before_the_import_commits(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    """The embedded TTP writes its re-identification store on a thread of its own while the
    registry imports; the registry must not commit before that store has. A slow store shows
    it: while it writes, the registry holds nothing of the upload yet."""
    from zorgbroker.pseudonymisation.ttp_store import TTPStore

    seen_while_storing: list[int] = []
    write = TTPStore.store_sealed_in_order

    def slow_store(self: TTPStore, *args: Any) -> None:
        time.sleep(1.0)  # far longer than importing one record takes
        seen_while_storing.append(_held_rows(registry))
        write(self, *args)

    monkeypatch.setattr(TTPStore, "store_sealed_in_order", slow_store)
    report = registry.submit([nhr_row()])

    assert report.stored == Stored(new=1)
    assert seen_while_storing == [0]
    assert _held_rows(registry) == 1


def test_a_failing_ttp_store_fails_the_upload_and_imports_nothing(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
):
    from zorgbroker.pseudonymisation.ttp_store import TTPStore
    from zorgbroker.uploads.errors import ProcessingFailed

    def broken_store(self: TTPStore, *args: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    upload_id = registry.receive(registry.nhr_file([nhr_row()]))
    with monkeypatch.context() as patch:
        patch.setattr(TTPStore, "store_sealed_in_order", broken_store)
        with pytest.raises(ProcessingFailed) as failure:
            registry.process(upload_id)
    assert failure.value.message == (
        "Verwerking mislukt (OperationalError); de aanlevering kan opnieuw worden verwerkt."
    )
    info = registry.get(upload_id)
    assert info is not None and info.status == "failed"
    assert _held_rows(registry) == 0

    report = registry.process(upload_id)
    assert report.stored == Stored(new=1)
