"""Opening the registry database: migrations to the newest schema, then the dataset tables.

Everything runs in one transaction under a lock, so several processes starting at once on a new
database (workers on PostgreSQL, or CLI calls on SQLite) neither race nor half-create it.

Alembic, the dataset specifications and their table layouts are imported only when the schema is
checked in full or changed: a command that only reads the upload history
(`open_registry_for_reading`) checks the Alembic revision with one query and needs none of them.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, insert, inspect, select, text
from sqlalchemy.exc import OperationalError

from zorgbroker.alembic_chain import AlembicChain
from zorgbroker.logging import get_logger
from zorgbroker.registry.database import (
    engine_for,
    lock_for_transaction,
    sqlite_path,
    write_transaction,
)
from zorgbroker.registry.models import DatasetVersion

if TYPE_CHECKING:
    from zorgbroker.intake.api import DatasetSpec

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

log = get_logger(__name__)
_prepared: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
_guard = threading.Lock()


CHAIN = AlembicChain(MIGRATIONS)


_REVISION = re.compile(r'^(down_)?revision\b[^=\n]*=\s*(?:"([^"]*)"|None)', re.MULTILINE)


@cache
def head_revision() -> str | None:
    """The newest migration's revision, read from the migration files' `revision` and
    `down_revision` lines without importing Alembic; None when they do not name exactly one
    head (then the caller asks Alembic). A test holds it equal to Alembic's own answer."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict.fromkeys(("revision", "down_revision"), "")
        for match in _REVISION.finditer(path.read_text(encoding="utf-8")):
            found[f"{match[1] or ''}revision"] = match[2] or ""
        if not found["revision"]:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def stored_revision(conn: Connection) -> str | None:
    """The Alembic revision the database is at (None for a new database), read with a plain
    query, as Alembic itself stores it in its version table."""
    if not inspect(conn).has_table(CHAIN.version_table):
        return None
    query = text(f"SELECT version_num FROM {CHAIN.version_table}")
    rows = conn.execute(query).scalars().all()
    return rows[0] if len(rows) == 1 else None


def up_to_date(conn: Connection) -> bool:
    """Whether the schema needs nothing: checked without any lock, so a process that only reads
    never waits for a long import's write lock (SQLite) just to find nothing to do."""
    from zorgbroker.intake.api import SpecError, available, load_dataset
    from zorgbroker.registry import data_tables
    from zorgbroker.registry.layout import LayoutError, layout_for

    if stored_revision(conn) != CHAIN.head():
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
    from zorgbroker.intake.api import SpecError, available, load_dataset
    from zorgbroker.registry import data_tables
    from zorgbroker.registry.layout import LayoutError, layout_for

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


class RegistryMissing(Exception):
    """The SQLite file the address names does not exist, and was not asked to be created: a
    mistyped address must not quietly become a new, empty registry."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.message = (
            f"De registratiedatabase {path} bestaat niet (ZORGBROKER_DATABASE_URL). Controleer "
            "het adres, of maak een nieuwe registratie aan met 'zorgbroker init'."
        )
        super().__init__(self.message)


def open_registry_database(url: str, *, create: bool = False) -> Engine:
    """The registry's engine for `url`, with the schema brought up to date once per process.

    A SQLite file is made only with `create` (the default location, or `zorgbroker init`);
    else a missing one is `RegistryMissing`. `RegistryUnavailable` when the server is down."""
    from zorgbroker.intake.api import available

    engine = _engine(url, create=create)
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
                CHAIN.upgrade(conn)
                _sync_datasets(conn)
            _prepared.add(key)
    return engine


def open_registry_for_reading(url: str, *, create: bool = False) -> Engine:
    """The registry's engine for commands that only read the upload history (`uploads`,
    `report`): when the database is at the newest Alembic revision, which one query tells, it is
    handed out as it is; otherwise it is brought up to date as `open_registry_database` does.

    The history lives in the tables of the Alembic chain only, so the dataset tables and the
    dataset-version rows, which submit, worker and init check in full, cannot make it wrong."""
    engine = _engine(url, create=create)
    head = head_revision()
    if head is not None:
        try:
            with engine.connect() as conn:
                if stored_revision(conn) == head:
                    return engine
        except OperationalError:
            raise RegistryUnavailable() from None
    return open_registry_database(url, create=create)


def _engine(url: str, *, create: bool) -> Engine:
    path = sqlite_path(url)
    if path is not None and str(path) != ":memory:":
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            raise RegistryMissing(path)
    return engine_for(url)


def forget_prepared() -> None:
    """Tests create and drop databases; let them start over."""
    with _guard:
        _prepared.clear()
