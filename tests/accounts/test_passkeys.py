"""Passkeys through py_webauthn: added by a signed-in user, then used as the second step."""

from __future__ import annotations

import dataclasses

import pytest

from tests.accounts.conftest import GOOD_PASSWORD, HOME, World
from tests.accounts.soft_authenticator import SoftAuthenticator
from zorgbroker.accounts.authentication import SECOND_FACTOR, SIGNED_IN
from zorgbroker.accounts.interfaces import InvalidCode, RequestContext, SignInRefused

OTHER = RequestContext(address="198.51.100.7", user_agent="Chromium", browser_token="other")


def test_a_passkey_is_added_then_signs_in_once_per_challenge(world: World) -> None:
    accounts, auth, sessions = (
        world.services.accounts,
        world.services.authentication,
        world.services.sessions,
    )
    world.user_with_password()
    policy = accounts.organisation_policy(world.hospital)
    accounts.set_policy(
        None, world.hospital, dataclasses.replace(policy, two_step_required=False), HOME
    )
    anonymous, _ = sessions.start(HOME)
    signed_in = auth.sign_in(anonymous, "jan@ziekenhuis.example", GOOD_PASSWORD, HOME)
    assert signed_in.step == SIGNED_IN
    authenticator = SoftAuthenticator("localhost", "http://localhost:8000")
    options = auth.passkey_registration_options(signed_in.session_token)
    auth.add_passkey(signed_in.session_token, authenticator.create(options), "YubiKey", HOME)

    anonymous, _ = sessions.start(OTHER)
    pending = auth.sign_in(anonymous, "jan@ziekenhuis.example", GOOD_PASSWORD, OTHER)
    assert pending.step == SECOND_FACTOR
    options = auth.passkey_options(pending.session_token)
    answer = authenticator.get(options)
    assert auth.verify_passkey(pending.session_token, answer, OTHER).step == SIGNED_IN

    anonymous, _ = sessions.start(OTHER)
    again = auth.sign_in(anonymous, "jan@ziekenhuis.example", GOOD_PASSWORD, OTHER)
    auth.passkey_options(again.session_token)
    with pytest.raises(InvalidCode, match="niet herkend"):
        auth.verify_passkey(again.session_token, answer, OTHER)  # the old challenge's answer


def test_the_password_alone_cannot_add_a_passkey(world: World) -> None:
    auth, sessions = world.services.authentication, world.services.sessions
    world.user_with_totp()
    anonymous, _ = sessions.start(OTHER)
    pending = auth.sign_in(anonymous, "jan@ziekenhuis.example", GOOD_PASSWORD, OTHER)
    assert pending.step == SECOND_FACTOR
    with pytest.raises(SignInRefused):
        auth.passkey_registration_options(pending.session_token)


def test_a_passkey_from_another_site_is_refused(world: World) -> None:
    auth, sessions = world.services.authentication, world.services.sessions
    world.user_with_password()
    policy = world.services.accounts.organisation_policy(world.hospital)
    world.services.accounts.set_policy(
        None, world.hospital, dataclasses.replace(policy, two_step_required=False), HOME
    )
    anonymous, _ = sessions.start(HOME)
    pending = auth.sign_in(anonymous, "jan@ziekenhuis.example", GOOD_PASSWORD, HOME)
    phishing = SoftAuthenticator("localhost", "https://evil.example")
    with pytest.raises(InvalidCode, match="niet worden toegevoegd"):
        options = auth.passkey_registration_options(pending.session_token)
        auth.add_passkey(pending.session_token, phishing.create(options), "x", HOME)
