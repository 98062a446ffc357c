"""Procrastinate's tables under the registry's migration control.

Procrastinate keeps its tables in the registry's PostgreSQL database. It ships its full schema
(`schema.sql`, what a new database gets) and, for databases made by an older release, SQL files in
`procrastinate/sql/migrations/`, named `xx.yy.zz_nn_[pre|post_]description.sql`; it leaves
applying them to the project. This module does that when a worker (or a submitting process)
first opens the queue, so an upgrade of Procrastinate cannot leave an old schema under new code.

**The record.** One row in `zorgbroker_procrastinate_schema`: the Procrastinate version that last
brought the schema up to date, and the names of the migration files whose changes the schema
holds. A new database gets `schema.sql` and, as applied, every file the installed library ships
(`schema.sql` is, by Procrastinate's own tests and ours, what those files build).

**What is applied.** Every file the installed library ships that the record does not name, in name
order (by version, then serial: pre files before post files), together with the record's update,
in one transaction. The version in a file name is not enough to choose them: Procrastinate's
contributing guide says it is the latest release *before* the change, but the releases of 3.x
name them after the release that ships them (3.1.0 and 3.4.0 ship `03.01.00_*` and `03.04.00_*`),
and after a major release files wait in `future_migrations/` and enter `migrations/` later with
their old number. A range of versions would skip a file under one convention or apply it twice
under the other; names applied are exact under both. Both pre and post files are applied, because
the procedure is to stop every worker first (README, "Background processing").

**The version.** A record naming a newer Procrastinate than the installed one means an old
installation started against an upgraded database: it is refused, and nothing changes.

**Tables without a record** were made by `ensure_schema` before this module existed, always with
Procrastinate 3.10.0: every `uv.lock` of the project has pinned it since the queue came in. They
are adopted as 3.10.0, with the files that release shipped (`BASELINE_MIGRATIONS`, fixed here
because a later library no longer tells which those were), after checking that they hold the
newest change of 3.10.0 (the migrations of 03.04.00); older unrecorded tables are refused.

**Why not Alembic.** Alembic runs the registry's own revisions on SQLite and PostgreSQL; the
queue exists only on PostgreSQL, its changes come with a library instead of with our code, and
which are due depends on the library installed at run time. A revision per Procrastinate release
would have to be written by hand at every upgrade, which is the gap this module closes.

**Several processes at once** take turns under a transaction-scoped advisory lock (the key the
queue used before), so the files are applied once; the later ones find the record up to date.

A failing file rolls the whole upgrade back and stops the worker with a Dutch message. One known
way to fail: PostgreSQL does not let a transaction use an enum value it added itself, so one
upgrade over Procrastinate 2.6 and 2.14.1 at once would fail (2.14.1's index uses 2.6's new
status). An upgrade over such a pair goes in two steps, each with its own worker start.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg
from procrastinate.schema import SchemaManager
from psycopg.rows import TupleRow

from zorgbroker.jobs.config import QueueSchemaError
from zorgbroker.logging import get_logger
from zorgbroker.registry.database import lock_key

log = get_logger(__name__)

SCHEMA_LOCK = lock_key("procrastinate-schema")
RECORD_TABLE = "zorgbroker_procrastinate_schema"

#: The version of Procrastinate that made every queue schema created without a record.
BASELINE_VERSION = "3.10.0"
#: The migration files Procrastinate 3.10.0 shipped: the changes its `schema.sql` holds.
BASELINE_MIGRATIONS: tuple[str, ...] = (
    "00.00.00_01_initial.sql",
    "00.05.00_01_drop_started_at_column.sql",
    "00.05.00_02_drop_started_at_column.sql",
    "00.05.00_03_drop_procrastinate_version_table.sql",
    "00.06.00_01_fix_procrastinate_fetch_job.sql",
    "00.07.01_01_fix_trigger_status_events_insert.sql",
    "00.08.01_01_add_queueing_lock_column.sql",
    "00.10.00_01_close_fetch_job_race_condition.sql",
    "00.10.00_02_add_defer_job_function.sql",
    "00.11.00_03_add_procrastinate_periodic_defers.sql",
    "00.12.00_01_add_foreign_key_index.sql",
    "00.14.00_01_add_locks_to_periodic_defer.sql",
    "00.15.02_01_fix_procrastinate_defer_periodic_job.sql",
    "00.16.00_01_add_finish_job_and_retry_job_functions.sql",
    "00.17.00_01_add_trigger_on_job_deletion.sql",
    "00.17.00_02_delete_finished_jobs.sql",
    "00.17.00_03_add_checks_to_finish_job.sql",
    "00.17.00_04_add_checks_to_retry_job.sql",
    "00.18.01_01_fix_finish_job_compat_issue.sql",
    "00.19.00_01_add_index_on_procrastinate_jobs.sql",
    "00.22.00_01_add_kwargs_to_defer_periodic_job.sql",
    "00.23.00_01_null_locks_excluded.sql",
    "01.00.00_01_remove_old_finish_job_function.sql",
    "01.01.01_01_job_id_bigint.sql",
    "02.00.03_01_add_job_priority.sql",
    "02.05.00_01_add_periodic_job_priority.sql",
    "02.06.00_01_add_cancel_states.sql",
    "02.08.00_01_add_additional_params_to_retry_job.sql",
    "02.14.01_01_add_indexes_for_fetch_job.sql",
    "03.00.00_01_pre_cancel_notification.sql",
    "03.00.00_50_post_cancel_notification.sql",
    "03.01.00_01_pre_add_heartbeat.sql",
    "03.01.00_50_post_add_heartbeat.sql",
    "03.02.00_01_pre_batch_defer_jobs.sql",
    "03.02.00_50_post_batch_defer_jobs.sql",
    "03.03.00_01_pre_priority_lock_fetch_job.sql",
    "03.04.00_01_pre_add_retry_failed_job_procedure.sql",
    "03.04.00_50_post_add_retry_failed_job_procedure.sql",
)
#: True when unrecorded tables hold both halves of 3.10.0's newest change (03.04.00): the
#: function its pre file adds, and the 'retried' event its post file teaches the status trigger.
_BASELINE_CHECK = """
SELECT to_regprocedure('procrastinate_retry_job_v2(bigint, timestamp with time zone, integer,
                        character varying, character varying)') IS NOT NULL
   AND coalesce(pg_get_functiondef(
           to_regprocedure('procrastinate_trigger_function_status_events_update_v1()')
       ) LIKE '%''retried''%', false)
"""

_FILE_NAME = re.compile(r"(\d{2})\.(\d{2})\.(\d{2})_\d{2}_\w+\.sql")
_RELEASE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")

Action = Literal["created", "adopted", "migrated", "current"]


@dataclass(frozen=True)
class Migration:
    """One of Procrastinate's migration files."""

    name: str
    version: tuple[int, int, int]
    path: Path


@dataclass(frozen=True)
class SchemaRecord:
    """The row of `zorgbroker_procrastinate_schema`."""

    version: str
    migrations: tuple[str, ...]


@dataclass(frozen=True)
class SchemaOutcome:
    """What `ensure_procrastinate_schema` found and did.

    `action`: "created" (a new schema), "adopted" (unrecorded 3.10.0 tables recorded as such),
    "migrated" (the record moved to a newer version, with `applied` the files run, possibly
    none), "current" (nothing to do). `previous` is the version recorded before (3.10.0 when
    unrecorded tables were adopted and then migrated); `adopted` also says when an adoption was
    followed by migrations.
    """

    action: Action
    previous: str | None
    version: str
    applied: tuple[str, ...] = ()
    adopted: bool = False


def release(version: str) -> tuple[int, int, int]:
    """The release numbers of a version ("3.10.0" -> (3, 10, 0)); a pre-release or local part
    ("3.11.0rc1") counts as its release."""
    found = _RELEASE.match(version.strip())
    if found is None:
        raise QueueSchemaError(f"Onbekend versienummer van Procrastinate: '{version}'.")
    return int(found[1]), int(found[2]), int(found[3] or 0)


def library_version() -> str:
    return importlib.metadata.version("procrastinate")


def library_migrations_folder() -> Path:
    return Path(SchemaManager.get_migrations_path())


def shipped_migrations(folder: Path) -> list[Migration]:
    """The migration files in the folder, in name order (= version, then serial number)."""
    found: list[Migration] = []
    for path in folder.iterdir():
        if path.suffix != ".sql":
            continue
        parts = _FILE_NAME.fullmatch(path.name)
        if parts is None:
            # Its place in the order is unknown: better no worker than a guess.
            raise QueueSchemaError(
                f"Onbekend bestand tussen de migraties van Procrastinate: {path.name}; "
                "zorgbroker weet niet wanneer het moet worden toegepast."
            )
        version = (int(parts[1]), int(parts[2]), int(parts[3]))
        found.append(Migration(path.name, version, path))
    return sorted(found, key=lambda m: (m.version, m.name))


def pending_migrations(applied: Collection[str], shipped: Sequence[Migration]) -> list[Migration]:
    """The shipped files the schema does not hold yet, in the order of `shipped`."""
    done = set(applied)
    return [m for m in shipped if m.name not in done]


def read_record(conn: psycopg.Connection[TupleRow]) -> SchemaRecord | None:
    exists = conn.execute("SELECT to_regclass(%s)", (RECORD_TABLE,)).fetchone()
    if exists is None or exists[0] is None:
        return None
    row = conn.execute(f"SELECT version, migrations FROM {RECORD_TABLE}").fetchone()
    if row is None:
        return None
    return SchemaRecord(str(row[0]), tuple(str(m) for m in row[1]))


def write_record(
    conn: psycopg.Connection[TupleRow], version: str, migrations: Collection[str]
) -> None:
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {RECORD_TABLE} (
            one_row boolean PRIMARY KEY DEFAULT true CHECK (one_row),
            version text NOT NULL,
            migrations text[] NOT NULL,
            updated_at timestamp with time zone NOT NULL DEFAULT now()
        )"""
    )
    conn.execute(
        f"""INSERT INTO {RECORD_TABLE} (version, migrations) VALUES (%s, %s)
            ON CONFLICT (one_row) DO UPDATE
            SET version = excluded.version, migrations = excluded.migrations, updated_at = now()""",
        (version, sorted(set(migrations))),
    )


def ensure_procrastinate_schema(
    conninfo: str, *, library: str | None = None, folder: Path | None = None
) -> SchemaOutcome:
    """Bring Procrastinate's tables in this database to the installed library's version.

    `library` and `folder` stand for the installed library's version and migration files (tests
    play a newer release with them). Raises `QueueSchemaError` (Dutch) when it refuses or a
    file fails; the database is then as it was.
    """
    library = library or library_version()
    release(library)  # an unreadable version stops here, before the database is touched
    shipped = shipped_migrations(folder or library_migrations_folder())
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        outcome = _bring_up_to_date(conn, library, shipped)
    if outcome.action == "created":
        log.info("jobs.schema_created", version=outcome.version)
    elif outcome.action == "adopted":
        log.info("jobs.schema_adopted", version=outcome.version)
    elif outcome.action == "migrated":
        log.warning(
            "jobs.schema_migrated",
            previous=outcome.previous,
            version=outcome.version,
            applied=list(outcome.applied),
            adopted=outcome.adopted,
        )
    return outcome


def _bring_up_to_date(
    conn: psycopg.Connection[TupleRow], library: str, shipped: Sequence[Migration]
) -> SchemaOutcome:
    record = read_record(conn)
    if record is not None:
        _refuse_newer(record.version, library)
    found = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
    if found is None or found[0] is None:
        # A new database (or one whose queue was dropped, record or not): the full schema.
        _run(
            conn,
            SchemaManager.get_schema().encode(),
            f"Het schema van Procrastinate {library} kon niet worden aangemaakt",
        )
        write_record(conn, library, [m.name for m in shipped])
        return SchemaOutcome("created", None if record is None else record.version, library)
    adopted = record is None
    if record is None:
        check = conn.execute(_BASELINE_CHECK).fetchone()
        if check is None or not check[0]:
            raise QueueSchemaError(
                "De database heeft tabellen van Procrastinate zonder vastgelegde versie, en ze "
                f"zijn ouder dan versie {BASELINE_VERSION}: zorgbroker weet niet welke migraties "
                f"nog nodig zijn. Breng ze met de migratiebestanden van Procrastinate op versie "
                f"{BASELINE_VERSION} en start opnieuw; er is niets veranderd."
            )
        record = SchemaRecord(BASELINE_VERSION, BASELINE_MIGRATIONS)
        _refuse_newer(record.version, library)
    pending = pending_migrations(record.migrations, shipped)
    for migration in pending:
        _run(
            conn,
            migration.path.read_bytes(),
            f"Migratie {migration.name} van Procrastinate is mislukt",
            after=f"; de wachtrij staat nog op Procrastinate {record.version}. Een upgrade over "
            "meerdere versies kan ook in stappen, met na elke stap een worker die migreert "
            "(README, 'Background processing')",
        )
    if not adopted and not pending and record.version == library:
        return SchemaOutcome("current", record.version, library)
    write_record(conn, library, [*record.migrations, *(m.name for m in shipped)])
    if adopted and not pending and record.version == library:
        return SchemaOutcome("adopted", None, library, adopted=True)
    return SchemaOutcome(
        "migrated", record.version, library, tuple(m.name for m in pending), adopted=adopted
    )


def _refuse_newer(recorded: str, library: str) -> None:
    if release(recorded) > release(library):
        raise QueueSchemaError(
            f"De wachtrij in de database is al bijgewerkt voor Procrastinate {recorded}, maar "
            f"deze installatie van zorgbroker heeft Procrastinate {library}: werk zorgbroker hier "
            "eerst bij. Er is niets aan de database veranderd."
        )


def _run(conn: psycopg.Connection[TupleRow], sql: bytes, failure: str, *, after: str = "") -> None:
    try:
        conn.execute(sql)
    except psycopg.Error as exc:
        if conn.broken:
            raise  # the database went away: the caller's "niet bereikbaar"
        # The error's own text can quote the database's contents; the operator gets its kind.
        raise QueueSchemaError(
            f"{failure} ({type(exc).__name__}); er is niets veranderd{after}."
        ) from None
