"""One package's Alembic chain, run on a connection the package hands in.

The registry, the accounts and the FHIR store share one database, each with its own migrations
and its own version table, so none touches another's revisions. This module is the one place
that knows how such a chain is configured, read and run; the packages only name their
migrations folder and version table.

Alembic is imported only when a chain is read or run, so a command that never migrates (the
registry's reading path) does not pay for importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, MetaData

if TYPE_CHECKING:
    from alembic.config import Config

#: Alembic's own default, which the registry's chain keeps.
DEFAULT_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class AlembicChain:
    """A migrations folder and the table its revision is stored in."""

    migrations: Path
    version_table: str = DEFAULT_VERSION_TABLE

    def config(self, conn: Connection | None = None) -> Config:
        """Alembic's configuration for this chain; with `conn`, the env.py runs on it."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(self.migrations))
        if conn is not None:
            config.attributes["connection"] = conn
        return config

    def head(self) -> str | None:
        """The newest revision in the migrations folder."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.config()).get_current_head()

    def current(self, conn: Connection) -> str | None:
        """The revision the database is at (None when the chain never ran there)."""
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(conn, opts={"version_table": self.version_table})
        return context.get_current_revision()

    def upgrade(self, conn: Connection) -> None:
        """`alembic upgrade head` on this connection, inside its transaction."""
        from alembic import command

        command.upgrade(self.config(conn), "head")


def run_migrations(
    metadata: MetaData,
    *,
    runner: str,
    version_table: str = DEFAULT_VERSION_TABLE,
    include_name: Callable[[str | None, str, Any], bool] | None = None,
) -> None:
    """The body of a chain's env.py: run on the connection `AlembicChain.upgrade` handed in.

    `runner` names the module that runs the chain, for the message to whoever starts Alembic
    by hand."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(f"Migraties draaien via zorgbroker ({runner}), niet los.")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        render_as_batch=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
