"""API tokens in the accounts domain: shown once, stored as a digest, scoped, revocable, their
last use kept (at most one write a minute)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.accounts.conftest import demo_sqlite_engine, standin_services
from zorgbroker.accounts.api_tokens import LAST_USED_EVERY
from zorgbroker.accounts.interfaces import AccountError, NotAllowed, RequestContext
from zorgbroker.accounts.models import (
    ORGANISATION_ADMIN,
    REGISTRY_ADMIN,
    UPLOADER,
    ApiToken,
    SecurityEvent,
)
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.standins import FrozenClock, MemoryMailer

SYSTEM = RequestContext(address="127.0.0.1", user_agent="test")


@dataclass
class Setting:
    services: AccountServices
    clock: FrozenClock
    engine: Engine
    database: Path
    hospital: int
    other: int

    def user(self, email: str, roles: tuple[str, ...] = (UPLOADER,), org: int | None = None) -> int:
        self.services.accounts.invite(
            None, org or self.hospital, email, email.split("@")[0], roles, SYSTEM
        )
        found = self.services.accounts.find_user(email)
        assert found is not None
        return found


@pytest.fixture
def setting(tmp_path: Path) -> Iterator[Setting]:
    database = tmp_path / "accounts.sqlite3"
    engine = demo_sqlite_engine(database)
    clock = FrozenClock()
    services = standin_services(engine, clock, MemoryMailer())
    hospital = services.accounts.create_organisation("Ziekenhuis A", agb="01234567")
    other = services.accounts.create_organisation("Ziekenhuis B", agb="07654321")
    yield Setting(services, clock, engine, database, hospital, other)
    engine.dispose()


def test_the_secret_is_shown_once_and_only_its_digest_is_stored(setting: Setting):
    user = setting.user("jan@example.nl")
    made = setting.services.api_tokens.create(user, "Export-server", SYSTEM)

    assert made.secret.startswith(made.shown_as.rstrip("…"))
    listed = setting.services.api_tokens.list(user)
    assert [(t.name, t.shown_as, t.last_used_at) for t in listed] == [
        ("Export-server", made.shown_as, None)
    ]
    assert made.secret not in repr(listed)
    secret_part = made.secret.split("_", 2)[2]
    with setting.engine.connect() as conn:
        stored = conn.execute(select(ApiToken.secret_hash)).scalar_one()
    assert stored == hashlib.sha256(secret_part.encode()).digest()
    setting.engine.dispose()  # so the WAL is written back into the file
    for path in setting.database.parent.glob(setting.database.name + "*"):
        data = path.read_bytes()
        assert secret_part.encode() not in data, path
        assert made.secret.encode() not in data, path


def test_a_token_acts_for_its_user_and_organisation(setting: Setting):
    user = setting.user("jan@example.nl")
    made = setting.services.api_tokens.create(user, "server", SYSTEM)

    found = setting.services.api_tokens.verify(made.secret)

    assert found is not None
    assert (found.user_id, found.organisation_agb, found.sees_all) == (user, "01234567", False)


@pytest.mark.parametrize(
    "change",
    ["wrong secret", "unknown id", "no prefix", "empty", "revoked", "expired", "user disabled"],
)
def test_a_token_that_no_longer_fits_is_refused(setting: Setting, change: str):
    user = setting.user("jan@example.nl")
    tokens = setting.services.api_tokens
    made = tokens.create(user, "server", SYSTEM, valid_for=dt.timedelta(days=30))
    token = made.secret
    if change == "wrong secret":
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    elif change == "unknown id":
        token = "zbt_000000000000_" + token.split("_", 2)[2]
    elif change == "no prefix":
        token = token.removeprefix("zbt_")
    elif change == "empty":
        token = ""
    elif change == "revoked":
        tokens.revoke(user, made.id, SYSTEM)
    elif change == "expired":
        setting.clock.advance(days=30)
    elif change == "user disabled":
        setting.services.accounts.disable(None, user, "vertrokken", SYSTEM)

    assert tokens.verify(token) is None


def test_last_use_is_written_at_most_once_a_minute(setting: Setting):
    user = setting.user("jan@example.nl")
    tokens = setting.services.api_tokens
    made = tokens.create(user, "server", SYSTEM)
    first = setting.clock.now()

    assert tokens.verify(made.secret) is not None
    assert tokens.list(user)[0].last_used_at == first
    setting.clock.advance(seconds=LAST_USED_EVERY.total_seconds() - 1)
    assert tokens.verify(made.secret) is not None
    assert tokens.list(user)[0].last_used_at == first
    setting.clock.advance(seconds=1)
    assert tokens.verify(made.secret) is not None
    assert tokens.list(user)[0].last_used_at == setting.clock.now()


def test_creating_and_revoking_are_in_the_security_log_without_the_secret(setting: Setting):
    user = setting.user("jan@example.nl")
    made = setting.services.api_tokens.create(user, "server", SYSTEM)
    setting.services.api_tokens.revoke(user, made.id, SYSTEM)

    with setting.engine.connect() as conn:
        events = conn.execute(
            select(SecurityEvent.kind, SecurityEvent.detail).where(SecurityEvent.user_id == user)
        ).all()
    kinds = [kind for kind, _ in events]
    assert "api_token_created" in kinds and "api_token_revoked" in kinds
    assert all(made.secret.split("_", 2)[2] not in detail for _, detail in events)


def test_only_the_owner_or_the_organisation_administrator_revokes(setting: Setting):
    owner = setting.user("jan@example.nl")
    colleague = setting.user("piet@example.nl")
    admin = setting.user("beheer@example.nl", (ORGANISATION_ADMIN,))
    stranger = setting.user("anna@example.nl", (ORGANISATION_ADMIN,), org=setting.other)
    tokens = setting.services.api_tokens
    made = tokens.create(owner, "server", SYSTEM)

    for outsider in (colleague, stranger):
        with pytest.raises(NotAllowed):
            tokens.revoke(outsider, made.id, SYSTEM)
        assert made.id not in [t.id for t in tokens.list(outsider)]
    assert made.id in [t.id for t in tokens.list(admin)]
    tokens.revoke(admin, made.id, SYSTEM)
    assert tokens.verify(made.secret) is None


def test_a_token_needs_a_name_and_a_role_that_uploads(setting: Setting):
    user = setting.user("jan@example.nl")
    with pytest.raises(AccountError, match="naam"):
        setting.services.api_tokens.create(user, "   ", SYSTEM)
    nobody = setting.user("lezer@example.nl", ())
    with pytest.raises(NotAllowed):
        setting.services.api_tokens.create(nobody, "server", SYSTEM)


def test_a_registry_administrators_token_sees_all(setting: Setting):
    registry = setting.services.accounts.create_organisation("Registratie", is_registry=True)
    admin = setting.user("beheer@registratie.nl", (REGISTRY_ADMIN,), org=registry)
    found = setting.services.api_tokens.verify(
        setting.services.api_tokens.create(admin, "server", SYSTEM).secret
    )
    assert found is not None and found.sees_all and found.organisation_agb is None
