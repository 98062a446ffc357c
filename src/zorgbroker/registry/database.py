"""Connections to the registry database: SQLite (embedded default) or PostgreSQL.

SQLite runs in WAL mode so readers never wait for an import, with a long busy timeout so a second
writer waits for the first instead of failing. A transaction that will write registry data starts
with `BEGIN IMMEDIATE` (see `write_transaction`): it takes SQLite's single write lock before it
reads what the registry holds, so a comparison can never be overtaken by another import. On
PostgreSQL the same guarantee comes from a transaction-scoped advisory lock per dataset.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool, QueuePool

#: Seconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_SECONDS = 600
_IMMEDIATE = "zorgbroker_immediate"


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


#: Connections a serving engine keeps open on SQLite: one for each of anyio's 40 worker threads
#: that run a server's synchronous routes, and some for its event loop's own work.
SERVING_POOL_SIZE = 48


def _sqlite_engine(url: str, *, pooled: bool = False) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
        # By default one connection per checkout: SQLite connections are cheap to open. A pool
        # never hands on a connection in a transaction either (it rolls back on check-in), so a
        # server of many small reads may keep its connections (`serving_engine`).
        **(
            {"poolclass": QueuePool, "pool_size": SERVING_POOL_SIZE, "max_overflow": 16}
            if pooled
            else {"poolclass": NullPool}
        ),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Leave transaction control to the events below instead of the driver's own guesses.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Staging tables of an import never touch the disk: they hold pseudonyms, and need not.
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def serving_engine(engine: Engine) -> Engine:
    """An engine of `engine`'s database for a server of many small requests: on SQLite one that
    keeps its connections open, since opening one (with its pragmas) and closing it again cost
    more CPU than the indexed reads of a FHIR search (docs/benchmarks.md). PostgreSQL engines
    pool already: `engine` itself. Not cached: a server makes one and keeps it."""
    if not is_sqlite(engine):
        return engine
    return _sqlite_engine(engine.url.render_as_string(hide_password=False), pooled=True)


@cache
def engine_for(url: str) -> Engine:
    """One engine per database URL and process."""
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write; on SQLite it holds the write lock from its start."""
    with engine.connect() as conn:
        if is_sqlite(conn):
            conn = conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn


def immediate_writes(engine: Engine) -> Engine:
    """On SQLite, `engine` with every transaction begun IMMEDIATE (its pool shared): for
    services whose transactions read and then write, which in WAL mode would otherwise fail at
    once with "database is locked" when another connection wrote after their first read. The
    second writer waits for the lock instead. Other databases: `engine` itself."""
    if not is_sqlite(engine):
        return engine
    return engine.execution_options(**{_IMMEDIATE: True})


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a PostgreSQL advisory lock."""
    digest = hashlib.sha256(f"zorgbroker:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_for_transaction(conn: Connection, name: str) -> None:
    """Serialise transactions that name the same lock (PostgreSQL); SQLite is serialised already
    by `write_transaction`."""
    if is_postgres(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
