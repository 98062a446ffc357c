"""The composition root: the one place that builds services from the settings.

Services are handed their collaborators (the registry's engine, a file store, a stage-1 relay
factory, a dispatcher, a mailer, a clock); only this module reads `Settings` to make them, and
only this module opens the registry database from them. Commands, the worker and (later) the
portal ask it for what they need. Everything heavy is imported when a function is called, so
importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from zorgbroker.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from zorgbroker.uploads.history import UploadHistory
    from zorgbroker.uploads.service import UploadService
    from zorgbroker.uploads.tasks import Dispatcher


def open_registry(settings: Settings) -> Engine:
    """The registry's engine, migrated. Its SQLite file is made only at the default location
    under ZORGBROKER_HOME; a configured address must name an existing one (`zorgbroker init`
    makes it). Raises `RegistryMissing` or `RegistryUnavailable` (Dutch messages)."""
    from zorgbroker.registry.registry_db import open_registry_database

    return open_registry_database(
        settings.registry_database_url, create=settings.database_url is None
    )


def upload_history(settings: Settings) -> UploadHistory:
    """The upload history, for commands that only read it (`uploads`, `report`): the registry
    is opened by its Alembic revision alone, without the check, pseudonymisation or mail the
    upload service brings along. Raises as `open_registry` does."""
    from zorgbroker.registry.registry_db import open_registry_for_reading
    from zorgbroker.uploads.history import UploadHistory

    return UploadHistory(
        open_registry_for_reading(
            settings.registry_database_url, create=settings.database_url is None
        )
    )


def init_registry(settings: Settings) -> Engine:
    """Create (or bring up to date) the registry database at the configured address."""
    from zorgbroker.registry.registry_db import open_registry_database

    return open_registry_database(settings.registry_database_url, create=True)


def dispatcher(settings: Settings) -> Dispatcher:
    """Inline (the embedded default) or the Procrastinate queue; `JobsConfigError` when the
    queue is asked for without PostgreSQL."""
    from zorgbroker.jobs.dispatch import QueueDispatcher, processes_in_background
    from zorgbroker.uploads.tasks import Inline

    if processes_in_background(settings):
        return QueueDispatcher(settings)
    return Inline()


def upload_service(settings: Settings, *, dispatch: Dispatcher | None = None) -> UploadService:
    """The upload service of this installation (`dispatch` overrides the configured
    dispatcher: a worker runs its jobs inline)."""
    from zorgbroker.mail.notify import Notifier
    from zorgbroker.pseudonymisation.relay import Stage1Relay
    from zorgbroker.uploads.files import LocalFileStore
    from zorgbroker.uploads.service import ImportOptions, UploadService

    engine = open_registry(settings)
    return UploadService(
        engine=engine,
        files=LocalFileStore(settings.home, settings.uploads_dir.name),
        relays=partial(Stage1Relay.for_mode, home=settings.home),
        dispatcher=dispatch or dispatcher(settings),
        mailer=Notifier(engine, settings),
        imports=ImportOptions(batch_rows=settings.import_batch_rows),
    )


def upload_job(settings: Settings) -> Callable[[int], object]:
    """What a worker runs for a queued upload: the upload service's `run`, with the service
    built when the first job comes (a database that is down then fails the job, which is
    retried, not the worker)."""
    from zorgbroker.uploads.tasks import Inline

    def job(upload_id: int) -> object:
        return upload_service(settings, dispatch=Inline()).run(upload_id)

    return job
