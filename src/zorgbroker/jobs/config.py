"""Which job queue this installation uses, checked without importing the queue itself."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from zorgbroker.settings import Settings


class JobsConfigError(Exception):
    """The job queue cannot be used with these settings; a Dutch message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QueueUnavailable(Exception):
    """The upload could not be put in the queue: its database could not be reached, or its
    tables there were refused (`QueueSchemaError`); a Dutch message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QueueSchemaError(Exception):
    """The queue's tables in the database do not fit this installation and were left as they
    were (see `zorgbroker.jobs.schema`); a Dutch message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def conninfo(settings: Settings) -> str:
    """The libpq connection string of the registry's PostgreSQL database."""
    url = make_url(settings.registry_database_url)
    if url.get_backend_name() != "postgresql":
        raise JobsConfigError(
            "De wachtrij (ZORGBROKER_JOBS=procrastinate, zorgbroker worker) werkt alleen met "
            "PostgreSQL: zet ZORGBROKER_DATABASE_URL op een postgresql+psycopg://-adres."
        )
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
