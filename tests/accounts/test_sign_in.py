"""Signing in at the service level: passwords, lockout, second factors, sessions."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select, text

from tests.accounts.conftest import GOOD_PASSWORD, HOME, World
from zorgbroker.accounts.authentication import (
    REFUSED,
    SECOND_FACTOR,
    SETUP_SECOND_FACTOR,
    SIGNED_IN,
)
from zorgbroker.accounts.interfaces import ClockProblem, InvalidCode, RequestContext, SignInRefused
from zorgbroker.accounts.models import TotpFactor, User
from zorgbroker.accounts.passwords import ARGON2_PARAMETERS, PasswordService, ShippedListChecker

ATTACKER = RequestContext(address="198.51.100.7", user_agent="curl", browser_token="attacker")


def sign_in(world: World, email: str, password: str, context: RequestContext = HOME) -> object:
    token, _ = world.services.sessions.start(context)
    return world.services.authentication.sign_in(token, email, password, context)


def test_password_then_totp_signs_in_with_a_new_session_identifier(world: World) -> None:
    _, totp = world.user_with_totp()
    auth, sessions = world.services.authentication, world.services.sessions
    anonymous, _ = sessions.start(HOME)
    first = auth.sign_in(anonymous, "Jan@Ziekenhuis.example", GOOD_PASSWORD, HOME)
    assert first.step == SECOND_FACTOR
    assert first.session_token != anonymous
    assert sessions.load(anonymous) is None
    pending = sessions.load(first.session_token)
    assert pending is not None and pending.pending and not pending.signed_in
    done = auth.verify_totp(first.session_token, totp.at(world.clock.now()), HOME)
    assert done.step == SIGNED_IN
    assert done.session_token not in (anonymous, first.session_token)
    assert sessions.load(first.session_token) is None
    info = sessions.load(done.session_token)
    assert info is not None and info.signed_in


def test_a_replayed_totp_code_is_refused(world: World) -> None:
    _, totp = world.user_with_totp()
    code = totp.at(world.clock.now())
    first = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    world.services.authentication.verify_totp(first.session_token, code, HOME)  # type: ignore[attr-defined]
    second = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD, ATTACKER)
    with pytest.raises(InvalidCode, match="al gebruikt"):
        world.services.authentication.verify_totp(second.session_token, code, ATTACKER)  # type: ignore[attr-defined]


def test_one_step_of_clock_skew_is_accepted_more_is_named_a_clock_problem(world: World) -> None:
    _, totp = world.user_with_totp()
    auth = world.services.authentication
    pending = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    ahead = world.clock.now().timestamp() + 4 * 60
    with pytest.raises(ClockProblem, match="4 minuten voor"):
        auth.verify_totp(pending.session_token, totp.at(ahead), HOME)  # type: ignore[attr-defined]
    world.clock.advance(seconds=60)  # the wizard's own code was one step ago
    behind = world.clock.now().timestamp() - 30
    assert auth.verify_totp(pending.session_token, totp.at(behind), HOME).step == SIGNED_IN  # type: ignore[attr-defined]


def test_the_totp_secret_is_encrypted_at_rest(world: World) -> None:
    _, totp = world.user_with_totp()
    with world.services.db() as s:
        stored = s.scalars(select(TotpFactor.secret_encrypted)).one()
    assert totp.secret.encode() not in stored


def test_attempt_limit_holds_while_a_known_browser_still_gets_in(world: World) -> None:
    world.user_with_password()  # the hospital's policy: 5 attempts, 30 minutes
    world.services.accounts.set_policy(
        None,
        world.hospital,
        dataclasses.replace(
            world.services.accounts.organisation_policy(world.hospital), two_step_required=False
        ),
        HOME,
    )
    assert sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD).step == SIGNED_IN  # type: ignore[attr-defined]
    for _ in range(5):
        with pytest.raises(SignInRefused):
            sign_in(world, "jan@ziekenhuis.example", "raden raden raden", ATTACKER)
    # Now even the right password is refused from an unknown browser, with the same answer ...
    with pytest.raises(SignInRefused) as refused:
        sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD, ATTACKER)
    assert refused.value.message == REFUSED
    # ... while the browser Jan signed in with before still gets in.
    assert sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD).step == SIGNED_IN  # type: ignore[attr-defined]
    world.clock.advance(minutes=31)
    assert sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD, ATTACKER).step == SIGNED_IN  # type: ignore[attr-defined]


class CountingPasswords(PasswordService):
    verifications = 0

    def verify(self, password_hash: str | None, password: str) -> bool:
        CountingPasswords.verifications += 1
        return super().verify(password_hash, password)


def test_unknown_and_known_accounts_get_the_same_answer_and_the_same_work(world: World) -> None:
    world.user_with_password()
    counting = CountingPasswords(ShippedListChecker())
    world.services.authentication.passwords = counting
    answers = []
    for email in ("jan@ziekenhuis.example", "niemand@ziekenhuis.example"):
        CountingPasswords.verifications = 0
        with pytest.raises(SignInRefused) as refused:
            sign_in(world, email, "fout wachtwoord", ATTACKER)
        answers.append((refused.value.message, CountingPasswords.verifications))
    assert answers[0] == answers[1] == (REFUSED, 1)


def test_a_disabled_users_open_session_ends_at_its_next_request(world: World) -> None:
    user_id, totp = world.user_with_totp()
    admin_id = world.user_with_password("admin@ziekenhuis.example", roles=("organisation_admin",))
    pending = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    done = world.services.authentication.verify_totp(
        pending.session_token, totp.at(world.clock.now()), HOME
    )  # type: ignore[attr-defined]
    assert world.services.sessions.load(done.session_token) is not None
    world.services.accounts.disable(admin_id, user_id, "uit dienst", HOME)
    assert world.services.sessions.load(done.session_token) is None
    with pytest.raises(SignInRefused):
        sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)


def test_idle_absolute_and_trusted_browser_limits(world: World) -> None:
    _, totp = world.user_with_totp()
    auth, sessions = world.services.authentication, world.services.sessions
    pending = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    done = auth.verify_totp(pending.session_token, totp.at(world.clock.now()), HOME)  # type: ignore[attr-defined]
    world.clock.advance(minutes=29)
    assert sessions.load(done.session_token) is not None
    world.clock.advance(minutes=31)
    assert sessions.load(done.session_token) is None  # 30 minutes idle
    # Within 4 hours of the second factor this browser needs none; another browser does.
    assert sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD).step == SIGNED_IN  # type: ignore[attr-defined]
    assert sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD, ATTACKER).step == SECOND_FACTOR  # type: ignore[attr-defined]
    world.clock.advance(hours=3, minutes=1)
    assert sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD).step == SECOND_FACTOR  # type: ignore[attr-defined]
    # 12 hours absolute, however busy the session.
    pending = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    world.clock.advance(seconds=30)
    done = auth.verify_totp(pending.session_token, totp.at(world.clock.now()), HOME)  # type: ignore[attr-defined]
    for _ in range(25):
        world.clock.advance(minutes=29)
        sessions.load(done.session_token)
    assert sessions.load(done.session_token) is None


def test_mailed_login_token_works_once_only_in_the_session_that_asked(world: World) -> None:
    world.user_with_totp()
    auth = world.services.authentication
    mine = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    other = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD, ATTACKER)
    auth.send_login_token(mine.session_token, HOME)  # type: ignore[attr-defined]
    body = world.mailer.last_to("jan@ziekenhuis.example").body
    link = next(w for w in body.split() if "/aanmelden/token/" in w).rsplit("/", 1)[1]
    code = body.split("Of vul deze code in: ")[1].split()[0]
    with pytest.raises(InvalidCode, match="andere browser"):
        auth.verify_login_token(other.session_token, ATTACKER, token=link)  # type: ignore[attr-defined]
    with pytest.raises(InvalidCode):
        auth.verify_login_token(other.session_token, ATTACKER, code=code)  # type: ignore[attr-defined]
    assert auth.verify_login_token(mine.session_token, HOME, code=code).step == SIGNED_IN  # type: ignore[attr-defined]
    again = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD, ATTACKER)
    with pytest.raises(InvalidCode):
        auth.verify_login_token(again.session_token, ATTACKER, token=link)  # type: ignore[attr-defined]


def test_a_login_token_expires_after_ten_minutes(world: World) -> None:
    world.user_with_totp()
    auth = world.services.authentication
    mine = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    auth.send_login_token(mine.session_token, HOME)  # type: ignore[attr-defined]
    body = world.mailer.last_to("jan@ziekenhuis.example").body
    link = next(w for w in body.split() if "/aanmelden/token/" in w).rsplit("/", 1)[1]
    world.clock.advance(minutes=9, seconds=59)
    world.services.sessions.load(mine.session_token)
    world.clock.advance(seconds=2)
    with pytest.raises((InvalidCode, SignInRefused)):
        auth.verify_login_token(mine.session_token, HOME, token=link)  # type: ignore[attr-defined]


def test_recovery_codes_work_once_and_mail_the_user(world: World) -> None:
    user_id = world.user_with_password()
    tf = world.services.two_factor
    import pyotp

    enrolment = tf.begin_totp(user_id)
    codes = tf.confirm_totp(user_id, pyotp.TOTP(enrolment.secret).at(world.clock.now()), HOME)
    assert len(codes) == 10 and len(set(codes)) == 10
    auth = world.services.authentication
    pending = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    assert (
        auth.verify_recovery_code(pending.session_token, codes[0].lower(), HOME).step == SIGNED_IN
    )  # type: ignore[attr-defined]
    assert "herstelcode" in world.mailer.last_to("jan@ziekenhuis.example").subject
    pending = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD, ATTACKER)
    with pytest.raises(InvalidCode):
        auth.verify_recovery_code(pending.session_token, codes[0], ATTACKER)  # type: ignore[attr-defined]


def test_an_organisation_requiring_two_steps_sends_a_new_user_to_the_wizard(world: World) -> None:
    world.user_with_password()
    assert sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD).step == SETUP_SECOND_FACTOR  # type: ignore[attr-defined]


def test_the_hash_is_renewed_at_sign_in_when_the_parameters_change(world: World) -> None:
    world.user_with_password()
    with world.services.db() as s:
        before = s.scalars(select(User.password_hash)).one()
    world.services.authentication.passwords = PasswordService(
        ShippedListChecker(), ARGON2_PARAMETERS
    )
    sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    with world.services.db() as s:
        after = s.scalars(select(User.password_hash)).one()
    assert before is not None and after is not None and before != after
    assert "m=19456,t=2,p=1" in after and after.startswith("$argon2id$")


def test_the_security_log_is_append_only(world: World) -> None:
    world.user_with_password()
    with pytest.raises(Exception, match="alleen aangevuld"), world.services.db.begin() as s:
        s.execute(text("UPDATE account_security_events SET kind = 'x'"))
    with pytest.raises(Exception, match="alleen aangevuld"), world.services.db.begin() as s:
        s.execute(text("DELETE FROM account_security_events"))


def test_a_password_reset_ends_every_session(world: World) -> None:
    _, totp = world.user_with_totp()
    auth, sessions = world.services.authentication, world.services.sessions
    pending = sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    done = auth.verify_totp(pending.session_token, totp.at(world.clock.now()), HOME)
    world.services.accounts.request_password_reset(
        "jan@ziekenhuis.example", world.services.limiter, ATTACKER
    )
    body = world.mailer.last_to("jan@ziekenhuis.example").body
    token = next(w for w in body.split() if "/uitnodiging/" in w).rsplit("/", 1)[1]
    world.services.accounts.accept_invitation(token, "zeilboot paraplu molen appeltaart", HOME)
    assert sessions.load(done.session_token) is None
    assert sessions.trusted_browsers(done.user_id) == []


def test_an_account_unused_longer_than_the_policy_allows_is_disabled(world: World) -> None:
    world.user_with_password()
    accounts = world.services.accounts
    policy = accounts.organisation_policy(world.hospital)
    accounts.set_policy(
        None,
        world.hospital,
        dataclasses.replace(policy, disable_after_days=35, two_step_required=False),
        HOME,
    )
    assert sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD).step == SIGNED_IN
    world.clock.advance(days=36)
    with pytest.raises(SignInRefused):
        sign_in(world, "jan@ziekenhuis.example", GOOD_PASSWORD)
    assert not accounts.users(world.hospital)[0].is_active


def test_unknown_and_known_accounts_take_equally_long(world: World) -> None:
    import statistics
    import time

    # The shipped parameters for the account and the dummy alike.
    real = PasswordService(ShippedListChecker(), ARGON2_PARAMETERS)
    world.services.accounts.passwords = world.services.authentication.passwords = real
    world.user_with_password()
    timings: dict[str, list[float]] = {"jan@ziekenhuis.example": [], "niemand@x.example": []}
    for _ in range(5):
        for email, spent in timings.items():
            started = time.perf_counter()
            with pytest.raises(SignInRefused):
                sign_in(world, email, "fout wachtwoord", ATTACKER)
            spent.append(time.perf_counter() - started)
    known, unknown = (statistics.median(t) for t in timings.values())
    assert 0.6 < known / unknown < 1.6, (known, unknown)


def test_purge_removes_ended_and_expired_sessions_only(world: World) -> None:
    from zorgbroker.accounts.tasks import purge_expired

    sessions = world.services.sessions
    sessions.start(HOME)
    world.clock.advance(days=2)
    live, _ = sessions.start(HOME)
    assert purge_expired(world.services) == 1
    assert sessions.load(live) is not None


def test_an_activation_code_allows_five_attempts(world: World) -> None:
    user_id = world.user_with_password()
    tf = world.services.two_factor
    tf.send_activation_code(user_id, HOME)
    code = world.mailer.last_to("jan@ziekenhuis.example").body.split(": ")[1].split()[0]
    for _ in range(5):
        with pytest.raises(InvalidCode):
            tf.check_activation_code(user_id, "AAAAA-AAAAA")
    with pytest.raises(InvalidCode):
        tf.check_activation_code(user_id, code)
