"""Procrastinate's tables under migration control (`zorgbroker.jobs.schema`).

Each database test gets a new database. Old schemas are built from Procrastinate's own migration
files, the way successive upgrades built them: the files a release shipped are those numbered up
to its version (checked against the 3.0.0, 3.1.0 and 3.4.0 packages), and all of them together
build exactly what `schema.sql` builds (`test_the_migration_files_build_what_the_schema_builds`).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from tests.registry.conftest import new_postgres_database
from zorgbroker.cli import app
from zorgbroker.jobs import queue as job_queue
from zorgbroker.jobs.config import QueueSchemaError, QueueUnavailable
from zorgbroker.jobs.schema import (
    BASELINE_MIGRATIONS,
    BASELINE_VERSION,
    SCHEMA_LOCK,
    Migration,
    SchemaOutcome,
    SchemaRecord,
    ensure_procrastinate_schema,
    library_migrations_folder,
    library_version,
    pending_migrations,
    read_record,
    release,
    shipped_migrations,
    write_record,
)
from zorgbroker.settings import get_settings

LIBRARY = library_version()
SHIPPED = shipped_migrations(library_migrations_folder())
ALL_NAMES = tuple(m.name for m in SHIPPED)
#: The files of the releases after 3.10.0 (none while the lock pins 3.10.0).
AFTER_BASELINE = tuple(n for n in ALL_NAMES if n not in BASELINE_MIGRATIONS)
#: Later releases, played with `library=` (and a file of their own, which sorts after the
#: installed library's files).
_MAJOR, _MINOR, _PATCH = release(LIBRARY)
NEXT_PATCH = f"{_MAJOR}.{_MINOR}.{_PATCH + 1}"
NEXT_MINOR = f"{_MAJOR}.{_MINOR + 1}.0"
NEXT_MAJOR = f"{_MAJOR + 1}.0.0"
NEXT_FILE = f"{_MAJOR:02}.{_MINOR:02}.{_PATCH:02}_99_pre_zorgbroker_test.sql"

#: What makes up a schema: Procrastinate's tables, indexes, constraints, functions (their code
#: with white space folded), triggers and enum values.
_FINGERPRINT = {
    "columns": """SELECT table_name, column_name, data_type, is_nullable,
                         coalesce(column_default, '')
                  FROM information_schema.columns
                  WHERE table_schema = 'public' AND table_name LIKE 'procrastinate%'
                  ORDER BY 1, 2""",
    "indexes": """SELECT tablename, indexname, indexdef FROM pg_indexes
                  WHERE schemaname = 'public' AND tablename LIKE 'procrastinate%' ORDER BY 1, 2""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                      FROM pg_constraint WHERE conname LIKE 'procrastinate%' ORDER BY 1, 2""",
    "functions": """SELECT proname, pg_get_function_identity_arguments(oid),
                           md5(regexp_replace(prosrc, '\\s+', ' ', 'g'))
                    FROM pg_proc WHERE proname LIKE 'procrastinate%' ORDER BY 1, 2""",
    "triggers": """SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
                   WHERE NOT tgisinternal AND tgname LIKE 'procrastinate%' ORDER BY 1, 2""",
    "enums": """SELECT t.typname, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
                WHERE t.typname LIKE 'procrastinate%' ORDER BY 1, e.enumsortorder""",
    "comments": """SELECT c.relname, coalesce(obj_description(c.oid, 'pg_class'), '')
                   FROM pg_class c WHERE c.relname LIKE 'procrastinate%' ORDER BY 1""",
}


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fingerprint(info: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(info) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in _FINGERPRINT.items()}


def record(info: str) -> SchemaRecord | None:
    with psycopg.connect(info) as conn:
        return read_record(conn)


def set_record(info: str, version: str, migrations: tuple[str, ...]) -> None:
    with psycopg.connect(info) as conn:
        write_record(conn, version, migrations)


def apply_schema_sql(info: str) -> None:
    """What `ensure_schema` did before there was a record."""
    with psycopg.connect(info) as conn:
        conn.execute(SchemaManager.get_schema())


def shipped_up_to(version: str) -> tuple[str, ...]:
    """The migration files Procrastinate `version` shipped."""
    return tuple(m.name for m in SHIPPED if m.version <= release(version))


def build_schema(info: str, version: str) -> None:
    """Procrastinate's schema as of `version`, file by file, each in a transaction of its own."""
    with psycopg.connect(info, autocommit=True) as conn:
        for migration in SHIPPED:
            if migration.version <= release(version):
                conn.execute(migration.path.read_bytes())


def library_copy(tmp_path: Path, **changed: str) -> Path:
    """A copy of the installed library's migration files, with files added or replaced."""
    folder = tmp_path / "migrations"
    shutil.copytree(library_migrations_folder(), folder, ignore=shutil.ignore_patterns("__*"))
    for name, sql in changed.items():
        (folder / name).write_text(sql)
    return folder


@pytest.fixture(scope="session")
def reference() -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """The fingerprint of the installed library's full schema."""
    with new_postgres_database() as url:
        apply_schema_sql(libpq(url))
        yield fingerprint(libpq(url))


@pytest.fixture
def info(fresh_postgres_url: str) -> str:
    return libpq(fresh_postgres_url)


# Which files, in which order: no database needed.


def _files(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).write_text("SELECT 1;")
    return tmp_path


def test_files_are_taken_in_version_order_pre_before_post(tmp_path: Path) -> None:
    folder = _files(
        tmp_path,
        "03.10.00_50_post_b.sql",
        "10.00.00_01_pre_d.sql",
        "03.10.00_01_pre_a.sql",
        "03.09.01_01_pre_z.sql",
        "04.00.00_01_c.sql",
    )
    (folder / "__init__.py").write_text("")

    found = shipped_migrations(folder)

    assert [(m.name, m.version) for m in found] == [
        ("03.09.01_01_pre_z.sql", (3, 9, 1)),
        ("03.10.00_01_pre_a.sql", (3, 10, 0)),
        ("03.10.00_50_post_b.sql", (3, 10, 0)),
        ("04.00.00_01_c.sql", (4, 0, 0)),
        ("10.00.00_01_pre_d.sql", (10, 0, 0)),
    ]


@pytest.mark.parametrize("name", ["3.10.0_01_pre_x.sql", "03.10.00_pre_x.sql", "drop_all.sql"])
def test_a_migration_file_with_an_unknown_name_is_refused(tmp_path: Path, name: str) -> None:
    folder = _files(tmp_path, "03.10.00_01_pre_a.sql", name)

    with pytest.raises(QueueSchemaError, match=f"Onbekend bestand .*: {name}"):
        shipped_migrations(folder)


def test_pending_are_the_files_the_record_does_not_name_in_order() -> None:
    def file(name: str) -> Migration:
        return Migration(name, release(name[:8]), Path(name))

    shipped = [file(n) for n in ("02.00.00_01_moved_from_future.sql", "03.04.00_01_pre_a.sql",
                                 "03.04.00_50_post_a.sql", "03.10.00_01_pre_b.sql",
                                 "03.10.00_50_post_b.sql")]  # fmt: skip
    applied = ["03.04.00_01_pre_a.sql", "03.04.00_50_post_a.sql", "01.00.00_01_gone.sql"]

    pending = pending_migrations(applied, shipped)

    # An old number that entered the folder later (out of future_migrations) is still due.
    assert [m.name for m in pending] == [
        "02.00.00_01_moved_from_future.sql", "03.10.00_01_pre_b.sql", "03.10.00_50_post_b.sql"
    ]  # fmt: skip
    assert pending_migrations([m.name for m in shipped], shipped) == []


@pytest.mark.parametrize(
    ("version", "numbers"),
    [
        ("3.10.0", (3, 10, 0)),
        ("3.11", (3, 11, 0)),
        ("3.11.0rc1", (3, 11, 0)),
        ("10.0.2", (10, 0, 2)),
    ],
)
def test_release_numbers(version: str, numbers: tuple[int, int, int]) -> None:
    assert release(version) == numbers


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(QueueSchemaError, match="Onbekend versienummer van Procrastinate: 'main'"):
        release("main")


def test_the_baseline_is_what_procrastinate_3_10_0_shipped() -> None:
    if LIBRARY == BASELINE_VERSION:
        assert ALL_NAMES == BASELINE_MIGRATIONS
    else:  # a later release keeps the files of the earlier ones
        assert set(BASELINE_MIGRATIONS) <= set(ALL_NAMES)


# On PostgreSQL.


@pytest.mark.postgres
def test_the_migration_files_build_what_the_schema_builds(
    info: str, reference: dict[str, list[tuple[Any, ...]]]
) -> None:
    build_schema(info, LIBRARY)

    assert fingerprint(info) == reference


@pytest.mark.postgres
def test_a_new_database_gets_the_full_schema_and_the_record(
    info: str, reference: dict[str, list[tuple[Any, ...]]]
) -> None:
    outcome = ensure_procrastinate_schema(info)

    assert outcome == SchemaOutcome("created", None, LIBRARY)
    assert fingerprint(info) == reference
    assert record(info) == SchemaRecord(LIBRARY, ALL_NAMES)
    assert ensure_procrastinate_schema(info) == SchemaOutcome("current", LIBRARY, LIBRARY)
    assert record(info) == SchemaRecord(LIBRARY, ALL_NAMES)


@pytest.mark.postgres
def test_tables_made_before_the_record_are_adopted_as_3_10_0_unchanged(info: str) -> None:
    apply_schema_sql(info)
    with psycopg.connect(info) as conn:
        conn.execute(
            "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('default', 'zorgbroker.x', 0, NULL, "
            "NULL, '{}'::jsonb, NULL)::procrastinate_job_to_defer_v1])"
        )
    before = fingerprint(info)

    outcome = ensure_procrastinate_schema(info)

    assert outcome == SchemaOutcome("adopted", None, BASELINE_VERSION, adopted=True)
    assert record(info) == SchemaRecord(BASELINE_VERSION, BASELINE_MIGRATIONS)
    assert fingerprint(info) == before
    with psycopg.connect(info) as conn:
        assert conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchone() == (1,)


@pytest.mark.postgres
@pytest.mark.parametrize("old", ["3.0.0", "3.3.0"])
def test_an_older_schema_gets_exactly_the_later_files_pre_and_post_in_order(
    info: str, old: str, reference: dict[str, list[tuple[Any, ...]]]
) -> None:
    build_schema(info, old)
    set_record(info, old, shipped_up_to(old))
    later = {
        "3.0.0": ("03.01.00_01_pre_add_heartbeat.sql", "03.01.00_50_post_add_heartbeat.sql",
                  "03.02.00_01_pre_batch_defer_jobs.sql", "03.02.00_50_post_batch_defer_jobs.sql",
                  "03.03.00_01_pre_priority_lock_fetch_job.sql",
                  "03.04.00_01_pre_add_retry_failed_job_procedure.sql",
                  "03.04.00_50_post_add_retry_failed_job_procedure.sql"),
        "3.3.0": ("03.04.00_01_pre_add_retry_failed_job_procedure.sql",
                  "03.04.00_50_post_add_retry_failed_job_procedure.sql"),
    }[old] + AFTER_BASELINE  # fmt: skip

    outcome = ensure_procrastinate_schema(info)

    assert outcome == SchemaOutcome("migrated", old, LIBRARY, later)
    assert fingerprint(info) == reference
    assert record(info) == SchemaRecord(LIBRARY, ALL_NAMES)
    assert ensure_procrastinate_schema(info).action == "current"


@pytest.mark.postgres
def test_a_newer_library_migrates_unrecorded_tables_from_3_10_0(info: str, tmp_path: Path) -> None:
    apply_schema_sql(info)
    sql = "COMMENT ON TABLE procrastinate_jobs IS 'nieuw';"
    folder = library_copy(tmp_path, **{NEXT_FILE: sql})

    outcome = ensure_procrastinate_schema(info, library=NEXT_MINOR, folder=folder)

    applied = (*AFTER_BASELINE, NEXT_FILE)
    assert outcome == SchemaOutcome("migrated", BASELINE_VERSION, NEXT_MINOR, applied, adopted=True)
    assert record(info) == SchemaRecord(NEXT_MINOR, (*ALL_NAMES, NEXT_FILE))
    comments = dict(fingerprint(info)["comments"])
    assert comments["procrastinate_jobs"] == "nieuw"


@pytest.mark.postgres
def test_a_newer_library_without_new_files_only_moves_the_record(info: str) -> None:
    ensure_procrastinate_schema(info)
    before = fingerprint(info)

    outcome = ensure_procrastinate_schema(info, library=NEXT_PATCH)

    assert outcome == SchemaOutcome("migrated", LIBRARY, NEXT_PATCH)
    assert record(info) == SchemaRecord(NEXT_PATCH, ALL_NAMES)
    assert fingerprint(info) == before


@pytest.mark.postgres
@pytest.mark.parametrize("newer", [NEXT_PATCH, NEXT_MINOR, NEXT_MAJOR])
def test_an_older_installation_is_refused_on_a_newer_schema_and_nothing_changes(
    info: str, tmp_path: Path, newer: str
) -> None:
    ensure_procrastinate_schema(info)
    set_record(info, newer, ALL_NAMES)
    before = fingerprint(info)
    # A file the record does not name, that a wrongly allowed start would apply.
    folder = library_copy(
        tmp_path, **{"03.05.00_01_pre_x.sql": "COMMENT ON TABLE procrastinate_jobs IS 'x';"}
    )

    with pytest.raises(QueueSchemaError) as refused:
        ensure_procrastinate_schema(info, folder=folder)

    assert refused.value.message == (
        f"De wachtrij in de database is al bijgewerkt voor Procrastinate {newer}, maar deze "
        f"installatie van zorgbroker heeft Procrastinate {LIBRARY}: werk zorgbroker hier eerst "
        "bij. Er is niets aan de database veranderd."
    )
    assert record(info) == SchemaRecord(newer, ALL_NAMES)
    assert fingerprint(info) == before


@pytest.mark.postgres
def test_an_installation_older_than_3_10_0_is_refused_on_unrecorded_tables(info: str) -> None:
    apply_schema_sql(info)
    before = fingerprint(info)

    with pytest.raises(QueueSchemaError, match=r"bijgewerkt voor Procrastinate 3\.10\.0, maar"):
        ensure_procrastinate_schema(info, library="3.9.0")

    assert record(info) is None
    assert fingerprint(info) == before


@pytest.mark.postgres
def test_a_newer_record_is_refused_even_when_the_tables_are_gone(info: str) -> None:
    set_record(info, NEXT_MINOR, ALL_NAMES)

    with pytest.raises(QueueSchemaError, match=f"bijgewerkt voor Procrastinate {NEXT_MINOR}"):
        ensure_procrastinate_schema(info)

    assert fingerprint(info)["columns"] == []


@pytest.mark.postgres
def test_an_unreadable_recorded_version_is_refused(info: str) -> None:
    ensure_procrastinate_schema(info)
    set_record(info, "onbekend", ALL_NAMES)

    with pytest.raises(QueueSchemaError, match="Onbekend versienummer van Procrastinate"):
        ensure_procrastinate_schema(info)

    assert record(info) == SchemaRecord("onbekend", ALL_NAMES)


@pytest.mark.postgres
def test_a_record_without_tables_gets_the_full_schema(
    info: str, reference: dict[str, list[tuple[Any, ...]]]
) -> None:
    set_record(info, "3.9.0", BASELINE_MIGRATIONS[:-2])

    outcome = ensure_procrastinate_schema(info)

    assert outcome == SchemaOutcome("created", "3.9.0", LIBRARY)
    assert fingerprint(info) == reference
    assert record(info) == SchemaRecord(LIBRARY, ALL_NAMES)


@pytest.mark.postgres
@pytest.mark.parametrize("old", ["3.3.0", "3.4.0-pre"])
def test_unrecorded_tables_older_than_3_10_0_are_refused(info: str, old: str) -> None:
    if old == "3.4.0-pre":  # half of 3.10.0's newest change: its pre file without its post file
        build_schema(info, "3.3.0")
        with psycopg.connect(info) as conn:
            conn.execute(next(m for m in SHIPPED if "03.04.00_01_pre" in m.name).path.read_bytes())
    else:
        build_schema(info, old)
    before = fingerprint(info)

    with pytest.raises(QueueSchemaError, match="zonder vastgelegde versie, en ze zijn ouder dan"):
        ensure_procrastinate_schema(info)

    assert record(info) is None
    assert fingerprint(info) == before


@pytest.mark.postgres
def test_a_failing_migration_leaves_the_schema_and_the_record_as_they_were(
    info: str, tmp_path: Path
) -> None:
    build_schema(info, "3.1.0")
    set_record(info, "3.1.0", shipped_up_to("3.1.0"))
    before = fingerprint(info)
    broken = "03.04.00_50_post_add_retry_failed_job_procedure.sql"
    folder = library_copy(tmp_path, **{broken: "SELECT procrastinate_no_such_function();"})

    with pytest.raises(QueueSchemaError) as failed:
        ensure_procrastinate_schema(info, folder=folder)

    assert failed.value.message.startswith(
        f"Migratie {broken} van Procrastinate is mislukt (UndefinedFunction); er is niets "
        "veranderd; de wachtrij staat nog op Procrastinate 3.1.0."
    )
    # The four files before it ran, and were rolled back with it.
    assert fingerprint(info) == before
    assert record(info) == SchemaRecord("3.1.0", shipped_up_to("3.1.0"))


@pytest.mark.postgres
def test_a_failing_schema_creation_leaves_the_database_as_it_was(info: str) -> None:
    with psycopg.connect(info) as conn:
        conn.execute("CREATE TYPE procrastinate_job_status AS ENUM ('elders')")

    with pytest.raises(QueueSchemaError) as failed:
        ensure_procrastinate_schema(info)

    assert failed.value.message.startswith(
        f"Het schema van Procrastinate {LIBRARY} kon niet worden aangemaakt (DuplicateObject); "
        "er is niets veranderd."
    )
    assert record(info) is None
    assert fingerprint(info)["enums"] == [("procrastinate_job_status", "elders")]
    assert fingerprint(info)["functions"] == []


@pytest.mark.postgres
def test_a_connection_lost_during_a_migration_is_no_schema_error(info: str, tmp_path: Path) -> None:
    build_schema(info, "3.3.0")
    set_record(info, "3.3.0", shipped_up_to("3.3.0"))
    before = fingerprint(info)
    cut = "03.04.00_50_post_add_retry_failed_job_procedure.sql"
    folder = library_copy(tmp_path, **{cut: "SELECT pg_terminate_backend(pg_backend_pid());"})

    # The worker's command line says "de database is niet bereikbaar" for this one.
    with pytest.raises(psycopg.OperationalError):
        ensure_procrastinate_schema(info, folder=folder)

    assert fingerprint(info) == before
    assert record(info) == SchemaRecord("3.3.0", shipped_up_to("3.3.0"))


@pytest.mark.postgres
def test_an_unreachable_database_is_no_schema_error(info: str) -> None:
    with pytest.raises(psycopg.OperationalError):
        ensure_procrastinate_schema(info.replace("127.0.0.1:5432", "127.0.0.1:1"))


# Several workers starting at once.


def _start_at_once(info: str, count: int, **kwargs: Any) -> list[SchemaOutcome]:
    """`ensure_procrastinate_schema` in `count` threads, let go together once every one of them
    waits for the schema lock (held here meanwhile)."""
    outcomes: list[SchemaOutcome] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            outcomes.append(ensure_procrastinate_schema(info, **kwargs))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(count)]
    with psycopg.connect(info, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while True:
            waiting = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()
            if waiting == (count,):
                break
            assert not errors, errors
            assert time.monotonic() < deadline, f"{waiting} of {count} wait for the lock"
            time.sleep(0.02)
        holder.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return outcomes


@pytest.mark.postgres
def test_workers_starting_at_once_on_a_new_database_create_the_schema_once(
    info: str, reference: dict[str, list[tuple[Any, ...]]]
) -> None:
    outcomes = _start_at_once(info, 4)

    assert sorted(o.action for o in outcomes) == ["created", "current", "current", "current"]
    assert fingerprint(info) == reference
    assert record(info) == SchemaRecord(LIBRARY, ALL_NAMES)


@pytest.mark.postgres
def test_workers_starting_at_once_on_an_old_schema_migrate_it_once(
    info: str, tmp_path: Path
) -> None:
    build_schema(info, "3.3.0")
    set_record(info, "3.3.0", shipped_up_to("3.3.0"))
    # A file that is not safe to run twice: a second run would fail on the existing table.
    sql = "CREATE TABLE procrastinate_zorgbroker_test ();"
    folder = library_copy(tmp_path, **{NEXT_FILE: sql})

    outcomes = _start_at_once(info, 4, library=NEXT_MINOR, folder=folder)

    migrated = [o for o in outcomes if o.action == "migrated"]
    assert [o.applied for o in migrated] == [
        ("03.04.00_01_pre_add_retry_failed_job_procedure.sql",
         "03.04.00_50_post_add_retry_failed_job_procedure.sql", *AFTER_BASELINE, NEXT_FILE)
    ]  # fmt: skip
    assert sorted(o.action for o in outcomes) == ["current", "current", "current", "migrated"]
    assert record(info) == SchemaRecord(NEXT_MINOR, (*ALL_NAMES, NEXT_FILE))


# Through the worker and the queue.


def _queue_env(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("ZORGBROKER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ZORGBROKER_DATABASE_URL", url)
    monkeypatch.setenv("ZORGBROKER_JOBS", "procrastinate")
    for name in ("TTP_URL", "SMTP_HOST", "MAIL_TO", "USER"):
        monkeypatch.delenv(f"ZORGBROKER_{name}", raising=False)


@pytest.mark.postgres
def test_ensure_schema_creates_once_per_process_and_says_so(
    fresh_postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queue_env(monkeypatch, fresh_postgres_url, tmp_path)
    settings = get_settings(fresh=True)

    assert job_queue.ensure_schema(settings) is True
    assert job_queue.ensure_schema(settings) is False
    assert record(libpq(fresh_postgres_url)) == SchemaRecord(LIBRARY, ALL_NAMES)


@pytest.fixture
def upgraded_elsewhere(
    fresh_postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A queue that a newer installation brought to a newer Procrastinate, and this (older)
    installation's environment pointing at it; its libpq connection string."""
    info = libpq(fresh_postgres_url)
    ensure_procrastinate_schema(info)
    set_record(info, NEXT_MINOR, ALL_NAMES)
    _queue_env(monkeypatch, fresh_postgres_url, tmp_path)
    return info


@pytest.mark.postgres
def test_the_worker_refuses_a_newer_schema_in_dutch(upgraded_elsewhere: str) -> None:
    info = upgraded_elsewhere
    get_settings(fresh=True)

    result = CliRunner().invoke(app, ["worker", "--until-empty"])

    assert result.exit_code == 3, result.output
    output = " ".join(result.output.split())
    assert (
        f"Fout: De wachtrij in de database is al bijgewerkt voor Procrastinate {NEXT_MINOR}"
        in output
    )
    assert "Worker gestopt." not in output
    assert record(info) == SchemaRecord(NEXT_MINOR, ALL_NAMES)


@pytest.mark.postgres
def test_a_submit_on_a_newer_schema_says_why_it_could_not_queue(upgraded_elsewhere: str) -> None:
    info = upgraded_elsewhere

    with pytest.raises(QueueUnavailable) as refused:
        job_queue.defer_upload(7, settings=get_settings(fresh=True))

    assert refused.value.message.startswith(
        "aanlevering 7 is ontvangen, maar kon niet in de wachtrij: De wachtrij in de database "
        f"is al bijgewerkt voor Procrastinate {NEXT_MINOR}, maar"
    )
    with psycopg.connect(info) as conn:
        assert conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchone() == (0,)
