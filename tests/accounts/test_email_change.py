"""Changing one's e-mail address: a link to the new address, a notice to the old one."""

from __future__ import annotations

import pytest

from tests.accounts.conftest import HOME, World
from zorgbroker.accounts.interfaces import AccountError, InvalidLink

OLD = "jan@ziekenhuis.example"
NEW = "j.devries@ziekenhuis.example"


def mailed_token(world: World, to: str) -> str:
    body = world.mailer.last_to(to).body
    link = next(w for w in body.split() if "/e-mailadres/bevestigen/" in w)
    return link.rsplit("/", 1)[1]


def test_the_address_changes_only_when_the_link_is_followed(world: World) -> None:
    user_id = world.user_with_password(OLD)
    accounts = world.services.accounts
    accounts.request_email_change(user_id, f"  {NEW} ", world.services.limiter, HOME)
    assert accounts.user(user_id).email == OLD
    assert "wijzigen in j.devries@ziekenhuis.example" in world.mailer.last_to(OLD).body
    token = mailed_token(world, NEW)
    assert accounts.email_change(token) == NEW

    assert accounts.confirm_email_change(token, HOME) == user_id
    assert accounts.user(user_id).email == NEW
    assert accounts.find_user(NEW) == user_id and accounts.find_user(OLD) is None
    assert world.mailer.last_to(OLD).subject == "Uw e-mailadres is gewijzigd"
    kinds = [e.kind for e in world.services.security_log.for_user(world.services.db, user_id)]
    assert kinds[:2] == ["email_changed", "email_change_requested"]
    with pytest.raises(InvalidLink):  # single use
        accounts.confirm_email_change(token, HOME)


def test_the_link_expires_after_a_day(world: World) -> None:
    user_id = world.user_with_password(OLD)
    world.services.accounts.request_email_change(user_id, NEW, world.services.limiter, HOME)
    token = mailed_token(world, NEW)
    world.clock.advance(hours=24, seconds=1)
    with pytest.raises(InvalidLink, match="niet \\(meer\\) geldig"):
        world.services.accounts.confirm_email_change(token, HOME)
    assert world.services.accounts.user(user_id).email == OLD


def test_following_one_link_voids_the_other_pending_ones(world: World) -> None:
    user_id = world.user_with_password(OLD)
    accounts = world.services.accounts
    accounts.request_email_change(user_id, "typo@ziekenhuis.exmaple", world.services.limiter, HOME)
    typo = mailed_token(world, "typo@ziekenhuis.exmaple")
    accounts.request_email_change(user_id, NEW, world.services.limiter, HOME)
    accounts.confirm_email_change(mailed_token(world, NEW), HOME)
    with pytest.raises(InvalidLink):
        accounts.confirm_email_change(typo, HOME)
    assert accounts.user(user_id).email == NEW


def test_another_users_address_is_refused(world: World) -> None:
    user_id = world.user_with_password(OLD)
    world.invite("piet@ziekenhuis.example", name="Piet Jansen")
    sent = len(world.mailer.sent)
    with pytest.raises(AccountError, match="al een gebruiker met dit e-mailadres"):
        world.services.accounts.request_email_change(
            user_id, "PIET@ziekenhuis.example", world.services.limiter, HOME
        )
    assert len(world.mailer.sent) == sent


def test_an_address_taken_while_the_link_waits_is_refused(world: World) -> None:
    user_id = world.user_with_password(OLD)
    world.services.accounts.request_email_change(user_id, NEW, world.services.limiter, HOME)
    token = mailed_token(world, NEW)
    world.invite(NEW, name="Jan de Vries (2)")
    with pytest.raises(AccountError, match="inmiddels een andere gebruiker"):
        world.services.accounts.confirm_email_change(token, HOME)
    assert world.services.accounts.user(user_id).email == OLD


@pytest.mark.parametrize("bad", ["", "geen-adres", "jan @ziekenhuis.example", OLD.upper()])
def test_a_bad_or_unchanged_address_is_refused(world: World, bad: str) -> None:
    user_id = world.user_with_password(OLD)
    with pytest.raises(AccountError):
        world.services.accounts.request_email_change(user_id, bad, world.services.limiter, HOME)


def test_an_unknown_link_is_refused(world: World) -> None:
    with pytest.raises(InvalidLink):
        world.services.accounts.email_change("verzonnen")


def test_mails_are_limited_per_account(world: World) -> None:
    user_id = world.user_with_password(OLD)
    accounts, limiter = world.services.accounts, world.services.limiter
    for n in range(5):  # five mails in ten minutes
        accounts.request_email_change(user_id, f"jan{n}@elders.example", limiter, HOME)
    with pytest.raises(AccountError, match="net al mails verstuurd"):
        accounts.request_email_change(user_id, "jan9@elders.example", limiter, HOME)
    assert all(m.to != "jan9@elders.example" for m in world.mailer.sent)
