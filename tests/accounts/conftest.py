"""The accounts services on a real database (SQLite, and a fresh PostgreSQL database per test
session), handed stand-ins: a frozen clock, a memory mailer, memory rate limits."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import argon2
import pyotp
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from zorgbroker.accounts.collaborators import FernetSecretBox, LimitsRateLimiter
from zorgbroker.accounts.database import session_factory, upgrade
from zorgbroker.accounts.interfaces import RequestContext
from zorgbroker.accounts.models import ORGANISATION_ADMIN, REGISTRY_ADMIN, UPLOADER, Base
from zorgbroker.accounts.passwords import PasswordService, ShippedListChecker
from zorgbroker.accounts.services import AccountServices, build_services
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
#: Cheap argon2id for speed; the shipped parameters are tested on their own.
FAST_ARGON2 = argon2.Parameters(
    type=argon2.Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=1,
    memory_cost=1024,
    parallelism=1,
)
GOOD_PASSWORD = "vlinder kompas regenjas toren"
HOME = RequestContext(
    address="192.0.2.10", user_agent="Firefox thuis", browser_token="home-browser"
)


def sqlite_engine(path: Path) -> Engine:
    """A SQLite database file at `path` with the accounts tables at the newest schema."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool)
    upgrade(engine)
    return engine


def demo_sqlite_engine(path: Path) -> Engine:
    """The SQLite engine of `zorgbroker demo` (WAL, a busy timeout, transactions begun
    IMMEDIATE) at `path`, with the accounts tables at the newest schema: what the portal runs on."""
    from zorgbroker.registry.database import engine_for, immediate_writes

    engine = immediate_writes(engine_for(f"sqlite:///{path}"))
    upgrade(engine)
    return engine


def standin_services(
    engine: Engine, clock: FrozenClock, mailer: MemoryMailer, **options: Any
) -> AccountServices:
    """The accounts services on `engine`, handed the clock and mailer plus stand-ins: memory rate
    limits, the shipped breached-password list, a fresh secret key and cheap argon2id.
    `options` go to `build_services` as they are (the portal's `base_url`)."""
    return build_services(
        session_factory(engine),
        clock=clock,
        limiter=LimitsRateLimiter("memory://"),
        mailer=mailer,
        breached=ShippedListChecker(),
        secret_box=FernetSecretBox(FernetSecretBox.generate_key()),
        passwords=PasswordService(ShippedListChecker(), FAST_ARGON2),
        **options,
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"zorgbroker_test_{secrets.token_hex(6)}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server: skip the PostgreSQL variants, saying why
        pytest.skip(f"PostgreSQL op 127.0.0.1:5432 niet bereikbaar: {type(exc).__name__}")
    yield f"{PG_SERVER}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = sqlite_engine(tmp_path_factory.mktemp("accounts") / "zorgbroker.db")
        yield engine
        engine.dispose()
        return
    url = request.getfixturevalue("postgres_url")
    engine = create_engine(url, poolclass=NullPool)
    upgrade(engine)
    yield engine
    with engine.begin() as conn:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        # The log refuses DELETE; TRUNCATE is how a test database starts afresh.
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@dataclass
class World:
    services: AccountServices
    clock: FrozenClock
    mailer: MemoryMailer
    hospital: int
    registry: int

    def invite(
        self,
        email: str,
        name: str = "Jan de Vries",
        roles: tuple[str, ...] = (UPLOADER,),
        organisation: int | None = None,
    ) -> tuple[int, str]:
        """Invite a user; returns the id and the invitation token from the mail."""
        user_id = self.services.accounts.invite(
            None, organisation or self.hospital, email, name, roles, HOME
        )
        link = next(
            line for line in self.mailer.last_to(email).body.splitlines() if "/uitnodiging/" in line
        )
        return user_id, link.rsplit("/", 1)[1]

    def user_with_password(self, email: str = "jan@ziekenhuis.example", **kw: object) -> int:
        user_id, token = self.invite(email, **kw)  # type: ignore[arg-type]
        self.services.accounts.accept_invitation(token, GOOD_PASSWORD, HOME)
        return user_id

    def user_with_totp(self, email: str = "jan@ziekenhuis.example") -> tuple[int, pyotp.TOTP]:
        user_id = self.user_with_password(email)
        tf = self.services.two_factor
        enrolment = tf.begin_totp(user_id)
        totp = pyotp.TOTP(enrolment.secret)
        tf.confirm_totp(user_id, totp.at(self.clock.now()), HOME)
        self.clock.advance(seconds=30)
        return user_id, totp


@pytest.fixture
def world(engine: Engine) -> World:
    clock = FrozenClock()
    mailer = MemoryMailer()
    services = standin_services(engine, clock, mailer)
    hospital = services.accounts.create_organisation("Ziekenhuis Rivierenland")
    registry = services.accounts.create_organisation("Hartregistratie", is_registry=True)
    return World(services, clock, mailer, hospital, registry)


__all__ = ["GOOD_PASSWORD", "HOME", "ORGANISATION_ADMIN", "REGISTRY_ADMIN", "World"]
