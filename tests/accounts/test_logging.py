"""No password, code, token or secret in any log line or security log entry."""

from __future__ import annotations

import io

import pyotp
import pytest
from sqlalchemy import select

from tests.accounts.conftest import GOOD_PASSWORD, HOME, World
from zorgbroker import logging as zlogging
from zorgbroker.accounts.interfaces import SignInRefused
from zorgbroker.accounts.models import SecurityEvent


def test_no_secret_reaches_a_log_line(world: World) -> None:
    stream = io.StringIO()
    zlogging.configure(stream=stream, level="DEBUG")
    try:
        secrets_used: list[str] = [GOOD_PASSWORD, "verkeerd wachtwoord 123"]
        user_id, token = world.invite("jan@ziekenhuis.example")
        secrets_used.append(token)
        world.services.accounts.accept_invitation(token, GOOD_PASSWORD, HOME)
        tf = world.services.two_factor
        tf.send_activation_code(user_id, HOME)
        activation = world.mailer.last_to("jan@ziekenhuis.example").body.split(": ")[1].split()[0]
        secrets_used.append(activation)
        tf.check_activation_code(user_id, activation)
        enrolment = tf.begin_totp(user_id)
        secrets_used.append(enrolment.secret)
        totp = pyotp.TOTP(enrolment.secret)
        first = totp.at(world.clock.now())
        codes = tf.confirm_totp(user_id, first, HOME)
        secrets_used += codes
        auth, sessions = world.services.authentication, world.services.sessions
        anonymous, _ = sessions.start(HOME)
        with pytest.raises(SignInRefused):
            auth.sign_in(anonymous, "jan@ziekenhuis.example", "verkeerd wachtwoord 123", HOME)
        anonymous, _ = sessions.start(HOME)
        pending = auth.sign_in(anonymous, "jan@ziekenhuis.example", GOOD_PASSWORD, HOME)
        secrets_used += [anonymous, pending.session_token]
        auth.send_login_token(pending.session_token, HOME)
        body = world.mailer.last_to("jan@ziekenhuis.example").body
        link = next(w for w in body.split() if "/aanmelden/token/" in w).rsplit("/", 1)[1]
        code = body.split("Of vul deze code in: ")[1].split()[0]
        secrets_used += [link, code]
        done = auth.verify_recovery_code(pending.session_token, codes[1], HOME)
        secrets_used.append(done.session_token)
        auth.reauthenticate(done.session_token, GOOD_PASSWORD, HOME)
        sessions.end(done.session_token, HOME)
    finally:
        zlogging.configure()
    lines = stream.getvalue()
    assert "accounts.event" in lines
    with world.services.db() as s:
        events = s.scalars(select(SecurityEvent)).all()
        stored = "\n".join(f"{e.kind} {e.detail} {e.address} {e.user_agent}" for e in events)
    assert len(events) > 5
    for secret in secrets_used:
        assert secret not in lines, secret
        assert secret not in stored, secret
        assert secret.replace("-", "") not in lines
