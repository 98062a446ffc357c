"""Opening the registry database: migrations to the newest schema, then the dataset tables.

Everything runs in one transaction under a lock, so several processes starting at once on a new
database (workers on PostgreSQL, or CLI calls on SQLite) neither race nor half-create it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, insert, inspect, select
from sqlalchemy.exc import OperationalError

from zorgbroker.intake.api import DatasetSpec, SpecError, available, load_dataset
from zorgbroker.logging import get_logger
from zorgbroker.registry import data_tables
from zorgbroker.registry.database import engine_for, lock_for_transaction, write_transaction
from zorgbroker.registry.layout import LayoutError, layout_for
from zorgbroker.registry.models import DatasetVersion
from zorgbroker.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

log = get_logger(__name__)
_prepared: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
_guard = threading.Lock()


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def _head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def up_to_date(conn: Connection) -> bool:
    """Whether the schema needs nothing: checked without any lock, so a process that only reads
    never waits for a long import's write lock (SQLite) just to find nothing to do."""
    if MigrationContext.configure(conn).get_current_revision() != _head():
        return False
    inspector = inspect(conn)
    for entry in available():
        try:
            spec = load_dataset(entry.name)
            layout = layout_for(entry.name)
        except (SpecError, LayoutError):
            continue
        for table in layout.tables.values():
            if not inspector.has_table(table.sql_name):
                return False
            columns = {c["name"] for c in inspector.get_columns(table.sql_name)}
            indexes = {i["name"] for i in inspector.get_indexes(table.sql_name)}
            wanted = data_tables.table_for(table)
            if {c.name for c in wanted.columns} - columns:
                return False
            if {i.name for i in wanted.indexes} - indexes:
                return False
            if data_tables.obsolete_indexes(conn, table):
                return False
            if table.values is not None and not inspector.has_table(table.values.sql_name):
                return False
            if any(data_tables.needs_segments(conn, name) for name in table.sql_names):
                return False
        if not _has_version(conn, spec):
            return False
    return True


def _has_version(conn: Connection, spec: DatasetSpec) -> bool:
    found = conn.execute(
        select(DatasetVersion.id).where(
            DatasetVersion.dataset == spec.dataset, DatasetVersion.version == spec.version
        )
    ).scalar_one_or_none()
    return found is not None


def upgrade(conn: Connection) -> None:
    """`alembic upgrade head` on this connection, inside its transaction."""
    command.upgrade(_config(conn), "head")


def ensure_dataset_version(conn: Connection, spec: DatasetSpec) -> int:
    found = conn.execute(
        select(DatasetVersion.id).where(
            DatasetVersion.dataset == spec.dataset, DatasetVersion.version == spec.version
        )
    ).scalar_one_or_none()
    if found is not None:
        return found
    from zorgbroker.registry.models import utcnow

    result = conn.execute(
        insert(DatasetVersion).values(
            dataset=spec.dataset,
            version=spec.version,
            title=spec.title,
            registry_name=spec.registry,
            created_at=utcnow(),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _sync_datasets(conn: Connection) -> None:
    for entry in available():
        try:
            spec = load_dataset(entry.name)
            layout = layout_for(entry.name)
        except (SpecError, LayoutError) as exc:
            # One broken specification must not keep the registry from serving the others.
            log.warning("registry.dataset_skipped", dataset=entry.name, reason=str(exc)[:200])
            continue
        for table in layout.tables.values():
            data_tables.sync(conn, table)
        ensure_dataset_version(conn, spec)


class RegistryUnavailable(Exception):
    """The registry's database cannot be reached; the user can only try again later."""

    def __init__(self) -> None:
        # The driver's text can name hosts and users; the user gets a plain Dutch sentence.
        self.message = (
            "De database van de registratie is niet bereikbaar; controleer "
            "ZORGBROKER_DATABASE_URL of probeer het later opnieuw."
        )
        super().__init__(self.message)


def open_registry(settings: Settings) -> Engine:
    """The registry's engine, with the schema brought up to date once per process."""
    url = settings.registry_database_url
    engine = engine_for(url)
    # A dataset added to the installation (a new YAML) gets its tables without a restart.
    key = (url, tuple((e.name, e.version) for e in available()))
    with _guard:
        if key not in _prepared:
            try:
                with engine.connect() as conn:
                    current = up_to_date(conn)
            except OperationalError:
                raise RegistryUnavailable() from None
            if current:
                _prepared.add(key)
                return engine
            with write_transaction(engine) as conn:
                lock_for_transaction(conn, "schema")
                upgrade(conn)
                _sync_datasets(conn)
            _prepared.add(key)
    return engine


def forget_prepared() -> None:
    """Tests create and drop databases; let them start over."""
    with _guard:
        _prepared.clear()
