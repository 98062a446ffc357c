"""New passwords: strength, the shipped list, length, history; the argon2id parameters."""

from __future__ import annotations

import pytest

from tests.accounts.conftest import GOOD_PASSWORD, HOME, World
from zorgbroker.accounts.interfaces import InvalidLink, WeakPassword
from zorgbroker.accounts.passwords import (
    ARGON2_PARAMETERS,
    ShippedListChecker,
    personal_words,
    strength,
)
from zorgbroker.accounts.policy import DEFAULT_POLICY, PasswordPolicy


def test_argon2id_parameters_are_at_least_owasps_minimum() -> None:
    assert ARGON2_PARAMETERS.type.name == "ID"
    assert ARGON2_PARAMETERS.memory_cost >= 19 * 1024
    assert ARGON2_PARAMETERS.time_cost >= 2
    assert ARGON2_PARAMETERS.parallelism >= 1


def test_defaults_follow_asvs_level_2() -> None:
    assert DEFAULT_POLICY.change_after_days == 0  # no forced rotation
    assert DEFAULT_POLICY.min_length >= 8
    assert DEFAULT_POLICY.two_step_required
    assert DEFAULT_POLICY.min_strength == 60
    assert DEFAULT_POLICY.problems() == []


def test_the_shipped_list_knows_common_passwords() -> None:
    checker = ShippedListChecker()
    assert len(checker) > 10_000
    assert checker.is_breached("password1")
    assert checker.is_breached("Welcome1")
    assert not checker.is_breached(GOOD_PASSWORD)


def test_a_weak_password_is_refused_with_an_explanation(world: World) -> None:
    _, token = world.invite("jan@ziekenhuis.example")
    with pytest.raises(WeakPassword) as weak:
        world.services.accounts.accept_invitation(token, "Rivierenland2026", HOME)
    assert weak.value.minimum == 60
    assert weak.value.strength < 60
    assert any("minimaal 60%" in p for p in weak.value.problems)
    with pytest.raises(WeakPassword, match="veelgebruikte of uitgelekte"):
        world.services.accounts.accept_invitation(token, "1qaz2wsx3edc", HOME)
    with pytest.raises(WeakPassword, match="korter dan 12"):
        world.services.accounts.accept_invitation(token, "kX9#vT2q", HOME)


def test_personal_words_weaken_a_password() -> None:
    own = personal_words("Jan de Vries", "jan@ziekenhuis.example", "Ziekenhuis Rivierenland")
    assert strength("rivierenlandvries", own).percent < strength("rivierenlandvries").percent


def test_long_passwords_are_allowed_and_not_truncated(world: World) -> None:
    user_id, token = world.invite("jan@ziekenhuis.example")
    long = "vlinder kompas regenjas toren " * 4  # 120 characters
    world.services.accounts.accept_invitation(token, long, HOME)
    passwords = world.services.passwords
    with world.services.db() as s:
        from zorgbroker.accounts.models import User

        stored = s.get(User, user_id).password_hash  # type: ignore[union-attr]
    assert passwords.verify(stored, long)
    assert not passwords.verify(stored, long[:-1])
    assert not passwords.verify(stored, long[:72])


def test_an_invitation_link_works_once(world: World) -> None:
    _, token = world.invite("jan@ziekenhuis.example")
    world.services.accounts.accept_invitation(token, GOOD_PASSWORD, HOME)
    with pytest.raises(InvalidLink):
        world.services.accounts.accept_invitation(token, GOOD_PASSWORD + " nog", HOME)


def test_an_earlier_password_is_refused(world: World) -> None:
    user_id = world.user_with_password()
    accounts = world.services.accounts
    accounts.change_password(user_id, GOOD_PASSWORD, "zeilboot paraplu molen appeltaart", HOME)
    with pytest.raises(WeakPassword, match="eerder gebruikt"):
        accounts.change_password(user_id, "zeilboot paraplu molen appeltaart", GOOD_PASSWORD, HOME)


def test_policy_settings_are_checked() -> None:
    wrong = PasswordPolicy(min_strength=120, attempts=0, change_after_days=30, warn_days=40)
    assert len(wrong.problems()) == 3
