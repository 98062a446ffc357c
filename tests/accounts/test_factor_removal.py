"""Removing a second factor: refused for the last one when the organisation requires two
steps, logged, and told to the user by mail."""

from __future__ import annotations

import dataclasses

import pytest

from tests.accounts.conftest import HOME, World
from zorgbroker.accounts.interfaces import AccountError
from zorgbroker.accounts.models import Passkey
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.standins import FrozenClock
from zorgbroker.accounts.two_factor import PASSKEY, TOTP

EMAIL = "jan@ziekenhuis.example"


def require_two_steps(world: World, required: bool) -> None:
    accounts = world.services.accounts
    policy = accounts.organisation_policy(world.hospital)
    accounts.set_policy(
        None, world.hospital, dataclasses.replace(policy, two_step_required=required), HOME
    )


def add_passkey(
    services: AccountServices, clock: FrozenClock, user_id: int, name: str = "laptop"
) -> None:
    """A stored passkey row (registering a real one is tested in test_passkeys)."""
    with services.db.begin() as s:
        s.add(Passkey(user_id=user_id, credential_id=b"cred-" + name.encode(), public_key=b"pk",
                      name=name, created_at=clock.now()))  # fmt: skip


def kinds(world: World, user_id: int) -> list[str]:
    return [e.kind for e in world.services.security_log.for_user(world.services.db, user_id)]


def test_the_last_factor_stays_when_two_steps_are_required(world: World) -> None:
    require_two_steps(world, True)
    user_id, _ = world.user_with_totp(EMAIL)
    tf = world.services.two_factor
    [app] = tf.factors(user_id)
    assert app.kind == TOTP and app.name == "Authenticator-app"
    sent = len(world.mailer.sent)
    with pytest.raises(AccountError, match=r"enige tweede stap .* vereist aanmelden in twee"):
        tf.remove_factor(user_id, TOTP, app.id, HOME)
    assert tf.user_has_factor(user_id) and len(world.mailer.sent) == sent
    assert "totp_removed" not in kinds(world, user_id)


def test_one_of_two_factors_may_go_with_a_log_entry_and_a_mail(world: World) -> None:
    require_two_steps(world, True)
    user_id, _ = world.user_with_totp(EMAIL)
    add_passkey(world.services, world.clock, user_id)
    tf = world.services.two_factor
    app, key = tf.factors(user_id)
    assert key.kind == PASSKEY and key.name == "Passkey laptop"
    tf.remove_factor(user_id, TOTP, app.id, HOME)
    assert [f.kind for f in tf.factors(user_id)] == [PASSKEY]
    assert kinds(world, user_id)[0] == "totp_removed"
    mail = world.mailer.last_to(EMAIL)
    assert mail.subject == "Tweede stap verwijderd" and "authenticator-app" in mail.body
    with pytest.raises(AccountError, match="enige tweede stap"):
        tf.remove_factor(user_id, PASSKEY, key.id, HOME)


def test_without_the_requirement_the_last_factor_may_go(world: World) -> None:
    require_two_steps(world, False)
    user_id = world.user_with_password(EMAIL)
    add_passkey(world.services, world.clock, user_id)
    tf = world.services.two_factor
    [key] = tf.factors(user_id)
    tf.remove_factor(user_id, PASSKEY, key.id, HOME)
    assert tf.factors(user_id) == [] and not tf.user_has_factor(user_id)
    assert kinds(world, user_id)[0] == "passkey_removed"
    assert "een passkey" in world.mailer.last_to(EMAIL).body


def test_another_users_factor_cannot_be_removed(world: World) -> None:
    require_two_steps(world, False)
    owner, _ = world.user_with_totp(EMAIL)
    other = world.user_with_password("piet@ziekenhuis.example")
    [app] = world.services.two_factor.factors(owner)
    with pytest.raises(AccountError, match="bestaat niet"):
        world.services.two_factor.remove_factor(other, TOTP, app.id, HOME)
    with pytest.raises(AccountError, match="bestaat niet"):
        world.services.two_factor.remove_factor(owner, PASSKEY, app.id, HOME)
    assert world.services.two_factor.user_has_factor(owner)
