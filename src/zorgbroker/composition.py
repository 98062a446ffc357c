"""The composition root: the one place that builds services from the settings.

Services are handed their collaborators (the registry's engine, a file store, a stage-1 relay
factory, a dispatcher, a mailer, a clock); only this module reads `Settings` to make them, and
only this module opens the platform's database from them. The registry, the accounts and the
FHIR server share that database, each with its own migrations and version table. Commands, the
worker and the portal ask this module for what they need. Everything heavy is imported when a
function is called, so importing this module costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

from zorgbroker.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy import Engine

    from zorgbroker.accounts.collaborators import FernetSecretBox
    from zorgbroker.accounts.interfaces import Mailer
    from zorgbroker.accounts.services import AccountServices
    from zorgbroker.fhir.oauth.patients import PatientAccess
    from zorgbroker.fhir.oauth.server import AuthorizationService
    from zorgbroker.fhir.oauth.store import OAuthStore
    from zorgbroker.fhir.routes import FhirService
    from zorgbroker.pseudonymisation.client import TTPClient, WrappedKeySource
    from zorgbroker.uploads.history import UploadHistory
    from zorgbroker.uploads.service import UploadService
    from zorgbroker.uploads.tasks import Dispatcher

#: How often each portal process removes ended sessions and spent tokens.
PURGE_EVERY_SECONDS = 15 * 60

log = logging.getLogger(__name__)


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
        relays=partial(Stage1Relay.for_mode, home=settings.home, ttp=ttp_client(settings)),
        dispatcher=dispatch or dispatcher(settings),
        mailer=Notifier(engine, settings),
        imports=ImportOptions(batch_rows=settings.import_batch_rows),
    )


def ttp_client(settings: Settings) -> TTPClient | None:
    """The TTP service the settings name (`ttp_url`, `ttp_token`), or None: the relay then
    takes the TTP service of the environment or the embedded TTP (`production_ttp`)."""
    if not settings.ttp_url:
        return None
    from zorgbroker.pseudonymisation.client import HttpTTP

    token = settings.ttp_token.get_secret_value() if settings.ttp_token else ""
    return HttpTTP(settings.ttp_url, token)


def wrapped_key_source(settings: Settings) -> WrappedKeySource:
    """Where the portal gets an uploader's wrapped source key: the TTP service the settings name,
    else the embedded TTP under ZORGBROKER_HOME."""
    from zorgbroker.pseudonymisation.client import HttpTTP, LocalTTP

    client = ttp_client(settings)
    return client if isinstance(client, HttpTTP) else LocalTTP(settings.home)


def seal_public_key_source(settings: Settings) -> Callable[[], bytes]:
    """The TTP's public sealing key, for the browser's stage 1 (portal/routes/stage1_plan.py):
    asked once of the TTP service the settings name, else as a source finds it
    (`ttp_public_key_for_source`: a key file, the environment's service, the embedded TTP)."""
    from zorgbroker.pseudonymisation.source_side import ttp_public_key_for_source

    client = ttp_client(settings)
    return cache(
        client.seal_public_key if client else partial(ttp_public_key_for_source, settings.home)
    )


def upload_job(settings: Settings) -> Callable[[int], object]:
    """What a worker runs for a queued upload: the upload service's `run`, with the service
    built when the first job comes (a database that is down then fails the job, which is
    retried, not the worker)."""
    from zorgbroker.uploads.tasks import Inline

    def job(upload_id: int) -> object:
        return upload_service(settings, dispatch=Inline()).run(upload_id)

    return job


# --- keys kept in files under ZORGBROKER_HOME (embedded installations) ----------------------


def secret_file(path: Path, make: Callable[[], str]) -> str:
    """The secret in `path`, made with `make` on first use, readable by the owner only. Two
    processes starting at once agree: the second finds the file the first created."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(make())
    return path.read_text().strip()


# --- the FHIR server ---------------------------------------------------------------------------


def fhir_engine(settings: Settings) -> Engine:
    """The platform's database, with the FHIR tables brought up to date."""
    from zorgbroker.fhir.schema import ensure_schema

    engine = open_registry(settings)
    ensure_schema(engine)
    return engine


def fhir_oauth_store(engine: Engine) -> OAuthStore:
    """The authorisation server's codes, tokens, client secrets and patient accounts."""
    from zorgbroker.fhir.oauth.store import OAuthStore
    from zorgbroker.fhir.store import utcnow

    return OAuthStore(engine, utcnow)


def authorization_service(settings: Settings, engine: Engine) -> AuthorizationService:
    """MedMij's authorisation server over the configured lists (the demo lists when unset);
    raises `ListError` (Dutch) for a list that does not match its schema."""
    import datetime as dt

    from zorgbroker.fhir.oauth.lists import DEMO_LISTS, read_lists
    from zorgbroker.fhir.oauth.server import AuthorizationService

    return AuthorizationService(
        read_lists(settings.medmij_lists_dir or DEMO_LISTS),
        fhir_oauth_store(engine),
        provider=settings.medmij_provider,
        issuer=settings.portal_url or "https://localhost",
        token_lifetime=dt.timedelta(minutes=settings.medmij_token_minutes),
    )


def fhir_service(settings: Settings, base_url: str | None = None) -> FhirService:
    """The FHIR API with the token endpoint; tokens are those the authorisation server (or
    `zorgbroker fhir token`) stored."""
    from zorgbroker.fhir.oauth.store import StoredTokenVerifier
    from zorgbroker.fhir.routes import FhirService
    from zorgbroker.fhir.store import utcnow
    from zorgbroker.registry.database import serving_engine

    engine = serving_engine(fhir_engine(settings))
    return FhirService(
        engine,
        StoredTokenVerifier(engine, utcnow),
        base_url=base_url,
        oauth=authorization_service(settings, engine),
    )


def fhir_app(base_url: str | None = None) -> FastAPI:
    """The FHIR server of `zorgbroker fhir serve --workers`, built in every worker process from
    the environment."""
    from zorgbroker.fhir.routes import create_app

    return create_app(fhir_service(get_settings(), base_url))


def patient_access(settings: Settings) -> PatientAccess:
    """What the portal's patient pages use: consent for a PGO and the access log."""
    from zorgbroker.fhir.oauth.patients import PatientAccess

    engine = fhir_engine(settings)
    return PatientAccess(engine, authorization_service(settings, engine))


# --- accounts and the portal -------------------------------------------------------------------


def accounts_secret_box(settings: Settings) -> FernetSecretBox:
    """TOTP secrets' encryption: ZORGBROKER_ACCOUNTS_SECRET_KEY, else (embedded) a key made
    once in ZORGBROKER_HOME/accounts-secret.key."""
    from zorgbroker.accounts.collaborators import FernetSecretBox

    if settings.accounts_secret_key is not None:
        key = settings.accounts_secret_key.get_secret_value()
    else:
        key = secret_file(
            settings.accounts_key_file, lambda: FernetSecretBox.generate_key().decode()
        )
    return FernetSecretBox(key.encode())


def accounts_engine(settings: Settings) -> Engine:
    """The platform's database, with the accounts tables brought up to date; on SQLite every
    accounts transaction takes the write lock when it begins (they read, then write)."""
    from zorgbroker.accounts.database import upgrade
    from zorgbroker.registry.database import immediate_writes

    engine = open_registry(settings)
    upgrade(engine)
    return immediate_writes(engine)


def account_services(
    settings: Settings, base_url: str, *, mailer: Mailer | None = None
) -> AccountServices:
    """The accounts services of this installation, mailing through SMTP or the local mailbox
    (or `mailer`: the demo's set-up keeps its invitations).

    On PostgreSQL sessions and attempt counters live in the database, so any number of portal
    processes share them. SQLite is one machine and one portal process (the demo): its counters
    stay in that process, as the database's single writer cannot take a counter's write while a
    sign-in's transaction holds the lock."""
    from zorgbroker.accounts.collaborators import (
        LimitsRateLimiter,
        SystemClock,
        TransportMailer,
    )
    from zorgbroker.accounts.database import session_factory
    from zorgbroker.accounts.passwords import ShippedListChecker
    from zorgbroker.accounts.rate_limit_storage import DatabaseStorage
    from zorgbroker.accounts.services import build_services
    from zorgbroker.registry.database import is_sqlite

    engine = accounts_engine(settings)
    storage = "memory://" if is_sqlite(engine) else DatabaseStorage(engine)
    return build_services(
        session_factory(engine),
        clock=SystemClock(),
        limiter=LimitsRateLimiter(storage),
        mailer=mailer or TransportMailer(settings),
        breached=ShippedListChecker(),
        secret_box=accounts_secret_box(settings),
        base_url=base_url,
    )


def portal_app(
    settings: Settings,
    services: AccountServices,
    *,
    origin: str,
    demo: bool = False,
    purge_every: float = PURGE_EVERY_SECONDS,
) -> FastAPI:
    """The portal on `services`. In the demo its mailbox page shows the local mailbox folder.
    Each portal process purges ended sessions and spent tokens at start-up and then every
    `purge_every` seconds (several processes doing so is harmless)."""
    from zorgbroker.mail.mailbox import MailboxFolder
    from zorgbroker.portal.app import create_app

    mailbox = MailboxFolder(settings.mailbox_dir) if demo else None
    app = create_app(
        services,
        origin=origin,
        demo_mailbox=mailbox,
        uploads=upload_service(settings),
        source_keys=wrapped_key_source(settings),
    )
    app.state.seal_public_key = seal_public_key_source(settings)
    # The patient pages (MedMij consent, who fetched my data) read this; without it they 404.
    app.state.patient_access = patient_access(settings)
    app.router.lifespan_context = _purging(services, purge_every)
    return app


def _purging(
    services: AccountServices, every: float
) -> Callable[[object], AbstractAsyncContextManager[None]]:
    from zorgbroker.accounts.tasks import purge_expired

    async def purge_now() -> None:
        try:
            await asyncio.to_thread(purge_expired, services)
        except Exception:  # a database that is down now is retried at the next round
            log.warning("purging expired sessions failed", exc_info=True)

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        async def rounds() -> None:
            while True:
                await purge_now()
                await asyncio.sleep(every)

        task = asyncio.create_task(rounds())
        try:
            yield
        finally:
            task.cancel()

    return lifespan


class PortalUrlMissing(ValueError):
    """`zorgbroker serve` without ZORGBROKER_PORTAL_URL (Dutch message)."""


def production_portal() -> FastAPI:
    """The portal of `zorgbroker serve`, built from the environment in every worker process
    (uvicorn's factory). Tokens in invitation and login paths are kept out of the access log."""
    from zorgbroker.portal.access_log import install

    settings = get_settings()
    if settings.portal_url is None:
        raise PortalUrlMissing(
            "Fout: stel ZORGBROKER_PORTAL_URL in op het publieke adres van het portaal "
            "(bijvoorbeeld https://portaal.example.nl)."
        )
    install()
    services = account_services(settings, settings.portal_url)
    return portal_app(settings, services, origin=settings.portal_url)
