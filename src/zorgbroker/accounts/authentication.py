"""Signing in: the password, then the second factor; guessing slowed, victims not locked out.

- Attempts are counted per address and per account (the rate limiter, shared storage) and by the
  policy: after its attempts the account refuses passwords for its lock time, except from a
  browser that signed in to it before (OWASP's device cookie), which has a counter of its own.
- Unknown and known accounts, wrong passwords, locked accounts: one answer, and one argon2
  verification's time (a dummy hash when there is no account).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zorgbroker.accounts.interfaces import (
    Clock,
    InvalidCode,
    Mailer,
    RateLimiter,
    RequestContext,
    SignInRefused,
)
from zorgbroker.accounts.models import Browser, LoginToken, Organisation, User, WebSession
from zorgbroker.accounts.passkeys import PasskeyService
from zorgbroker.accounts.passwords import PasswordService
from zorgbroker.accounts.security_log import SecurityLog
from zorgbroker.accounts.sessions import SessionService
from zorgbroker.accounts.tokens import digest, digit_code, new_token
from zorgbroker.accounts.two_factor import TwoFactorService

SIGNED_IN = "signed_in"
SECOND_FACTOR = "second_factor"
SETUP_SECOND_FACTOR = "setup_second_factor"

REFUSED = (
    "Het e-mailadres of wachtwoord klopt niet, of er is te vaak geprobeerd. "
    "Probeer het later opnieuw of vraag een nieuw wachtwoord aan."
)
LOGIN_TOKEN_ATTEMPTS = 5


@dataclass(frozen=True)
class SignInResult:
    step: str
    session_token: str
    user_id: int
    #: Days until the policy wants a new password, when within its warning period.
    password_expires_in_days: int | None = None
    password_expired: bool = False


class AuthenticationService:
    def __init__(
        self,
        db: sessionmaker[Session],
        clock: Clock,
        limiter: RateLimiter,
        passwords: PasswordService,
        sessions: SessionService,
        two_factor: TwoFactorService,
        mailer: Mailer,
        security_log: SecurityLog,
        base_url: str = "http://localhost:8000",
        passkeys: PasskeyService | None = None,
    ) -> None:
        self.passkeys = passkeys
        self.db = db
        self.clock = clock
        self.limiter = limiter
        self.passwords = passwords
        self.sessions = sessions
        self.two_factor = two_factor
        self.mailer = mailer
        self.security_log = security_log
        self.base_url = base_url.rstrip("/")

    # -- the password -----------------------------------------------------------------------

    def _browser(self, s: Session, user_id: int, context: RequestContext) -> Browser | None:
        if not context.browser_token:
            return None
        return s.scalar(
            select(Browser).where(
                Browser.token_hash == digest(context.browser_token),
                Browser.user_id == user_id,
                Browser.revoked_at.is_(None),
            )
        )

    def sign_in(
        self, session_token: str | None, email: str, password: str, context: RequestContext
    ) -> SignInResult:
        """Check the password; raises SignInRefused with one answer for every failure."""
        with self.db.begin() as s:
            result = self._sign_in(s, session_token, email, password, context)
        # Raised after the commit: the failure's count and log entry must stay.
        if result is None:
            raise SignInRefused(REFUSED)
        return result

    def _sign_in(
        self,
        s: Session,
        session_token: str | None,
        email: str,
        password: str,
        context: RequestContext,
    ) -> SignInResult | None:
        email_key = email.strip().lower()
        now = self.clock.now()
        user = s.scalar(select(User).where(func.lower(User.email) == email_key))
        browser = self._browser(s, user.id, context) if user is not None else None
        allowed = self.limiter.hit("password-address", context.address)
        if browser is None:
            allowed = self.limiter.hit("password-account", email_key) and allowed
        if user is None or not allowed:
            self.passwords.verify_dummy(password)
            self.security_log.record(
                s, "sign_in_failed", user_id=user.id if user else None, context=context,
                detail="onbekend account" if user is None else "te veel pogingen",
            )  # fmt: skip
            return None
        policy = user.organisation
        locked_until = browser.locked_until if browser is not None else user.locked_until
        locked = locked_until is not None and locked_until > now
        correct = self.passwords.verify(user.password_hash, password)
        if locked or not correct or not user.is_active:
            if not locked and not correct:
                self._count_failure(s, user, browser, policy, context)
            self.security_log.record(
                s, "sign_in_failed", user_id=user.id, organisation_id=user.organisation_id,
                context=context,
                detail="geblokkeerd" if locked else (
                    "uitgeschakeld" if not user.is_active else "wachtwoord onjuist"),
            )  # fmt: skip
            return None
        if (
            policy.disable_after_days
            and user.last_sign_in_at is not None
            and (now - user.last_sign_in_at > dt.timedelta(days=policy.disable_after_days))
        ):
            user.is_active = False
            user.disabled_reason = f"{policy.disable_after_days} dagen niet aangemeld"
            self.sessions.end_all(s, user.id, "disabled", context=context)
            self.security_log.record(
                s, "user_disabled", user_id=user.id, organisation_id=user.organisation_id,
                context=context, detail=user.disabled_reason,
            )  # fmt: skip
            return None
        assert user.password_hash is not None
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.passwords.hash(password)
            self.security_log.record(s, "password_rehashed", user_id=user.id)
        user.failed_attempts = 0
        user.locked_until = None
        if browser is not None:
            browser.failed_attempts = 0
            browser.locked_until = None
        old = self.sessions.row_for(s, session_token)
        token, row = self.sessions.rotate(s, old, user, context)
        row.password_at = now
        row.reauthenticated_at = now
        expires_in, expired = self._password_age(user, policy)
        if (
            browser is not None
            and browser.second_factor_until
            and (browser.second_factor_until > now)
        ):
            step = SIGNED_IN
        elif self.two_factor.has_factor(s, user.id):
            step = SECOND_FACTOR
        elif policy.two_step_required:
            step = SETUP_SECOND_FACTOR
        else:
            step = SIGNED_IN
        if step == SIGNED_IN:
            self._signed_in(s, user, row, context, second_factor=False)
        else:
            self.security_log.record(s, "password_ok", user_id=user.id, context=context)
        return SignInResult(step, token, user.id, expires_in, expired)

    def _count_failure(
        self,
        s: Session,
        user: User,
        browser: Browser | None,
        policy: Organisation,
        context: RequestContext,
    ) -> None:
        now = self.clock.now()
        lock = dt.timedelta(seconds=policy.lock_seconds)
        if browser is not None:
            browser.failed_attempts += 1
            if browser.failed_attempts >= policy.attempts:
                browser.failed_attempts = 0
                browser.locked_until = now + lock
                self.security_log.record(s, "browser_locked", user_id=user.id, context=context)
            return
        user.failed_attempts += 1
        if user.failed_attempts >= policy.attempts:
            user.failed_attempts = 0
            user.locked_until = now + lock
            self.security_log.record(
                s, "account_locked", user_id=user.id, organisation_id=user.organisation_id,
                context=context,
            )  # fmt: skip

    def _password_age(self, user: User, policy: Organisation) -> tuple[int | None, bool]:
        if not policy.change_after_days or user.password_changed_at is None:
            return None, False
        due = user.password_changed_at + dt.timedelta(days=policy.change_after_days)
        left = (due - self.clock.now()).days
        if left < 0:
            return 0, True
        return (left if left <= policy.warn_days else None), False

    def _signed_in(
        self,
        s: Session,
        user: User,
        row: WebSession,
        context: RequestContext,
        *,
        second_factor: bool,
    ) -> None:
        now = self.clock.now()
        row.signed_in_at = now
        user.last_sign_in_at = now
        if context.browser_token:
            browser = self._browser(s, user.id, context)
            if browser is None:
                browser = Browser(
                    token_hash=digest(context.browser_token), user_id=user.id,
                    user_agent=context.user_agent[:300], created_at=now, last_sign_in_at=now,
                )  # fmt: skip
                s.add(browser)
            browser.last_sign_in_at = now
            if second_factor:
                browser.second_factor_until = now + self.sessions.limits.trusted_browser
        self.security_log.record(
            s, "sign_in", user_id=user.id, organisation_id=user.organisation_id, context=context,
            detail="met tweede stap" if second_factor else "",
        )  # fmt: skip

    # -- the second factor ------------------------------------------------------------------

    def _session_user(
        self, s: Session, session_token: str | None, *, signed_in: bool = False
    ) -> tuple[WebSession, User]:
        """The session and its user: past the password, or with `signed_in` fully signed in
        (not merely past the password: else the password alone could add a factor)."""
        row = self.sessions.row_for(s, session_token)
        reached = None if row is None else (row.signed_in_at if signed_in else row.password_at)
        if row is None or row.user_id is None or reached is None:
            raise SignInRefused("Uw sessie is verlopen. Meld u opnieuw aan.")
        user = s.get(User, row.user_id)
        assert user is not None
        return row, user

    def _second_factor_passed(
        self, s: Session, row: WebSession, user: User, context: RequestContext
    ) -> str:
        token, new_row = self.sessions.rotate(s, row, user, context)
        new_row.reauthenticated_at = self.clock.now()
        self._signed_in(s, user, new_row, context, second_factor=True)
        return token

    def verify_totp(
        self, session_token: str | None, code: str, context: RequestContext
    ) -> SignInResult:
        return self._with_factor(session_token, context, lambda s, u: self.two_factor.check_totp(
            s, u.id, code))  # fmt: skip

    def verify_recovery_code(
        self, session_token: str | None, code: str, context: RequestContext
    ) -> SignInResult:
        def check(s: Session, user: User) -> None:
            self.two_factor.use_recovery_code(s, user, code)
            self.security_log.record(s, "recovery_code_used", user_id=user.id, context=context)

        return self._with_factor(session_token, context, check)

    def _with_factor(
        self,
        session_token: str | None,
        context: RequestContext,
        check: Callable[[Session, User], None],
    ) -> SignInResult:
        failure: InvalidCode | None = None
        with self.db.begin() as s:
            row, user = self._session_user(s, session_token)
            try:
                check(s, user)
            except InvalidCode as refused:
                # Committed, not rolled back: what the check counted (attempts) must stay.
                failure = refused
                self.security_log.record(
                    s, "second_factor_failed", user_id=user.id, context=context,
                    detail=type(refused).__name__,
                )  # fmt: skip
            else:
                token = self._second_factor_passed(s, row, user, context)
                expires_in, expired = self._password_age(user, user.organisation)
                return SignInResult(SIGNED_IN, token, user.id, expires_in, expired)
        raise failure

    # -- passkeys ---------------------------------------------------------------------------

    def _passkeys(self) -> PasskeyService:
        if self.passkeys is None:
            raise InvalidCode("Passkeys zijn op dit portaal niet ingeschakeld.")
        return self.passkeys

    def passkey_options(self, session_token: str | None) -> str:
        """The WebAuthn request for the second step (JSON for navigator.credentials.get)."""
        with self.db.begin() as s:
            row, user = self._session_user(s, session_token)
            return self._passkeys().authentication_options(s, row, user.id)

    def verify_passkey(
        self, session_token: str | None, credential: str, context: RequestContext
    ) -> SignInResult:
        def check(s: Session, user: User) -> None:
            row = self.sessions.row_for(s, session_token)
            assert row is not None
            self._passkeys().check(s, row, user.id, credential)

        return self._with_factor(session_token, context, check)

    def passkey_registration_options(self, session_token: str | None) -> str:
        """Adding a passkey (JSON for navigator.credentials.create)."""
        with self.db.begin() as s:
            row, user = self._session_user(s, session_token, signed_in=True)
            return self._passkeys().registration_options(s, row, user)

    def add_passkey(
        self, session_token: str | None, credential: str, name: str, context: RequestContext
    ) -> None:
        failure: InvalidCode | None = None
        with self.db.begin() as s:
            row, user = self._session_user(s, session_token, signed_in=True)
            try:
                self._passkeys().register(s, row, user, credential, name, context)
            except InvalidCode as refused:
                failure = refused  # the used challenge stays cleared
        if failure is not None:
            raise failure

    def send_login_token(self, session_token: str | None, context: RequestContext) -> None:
        """Mail a link and a code that work only in this browser session, for 10 minutes."""
        with self.db.begin() as s:
            row, user = self._session_user(s, session_token)
            if not self.limiter.hit("mail-account", str(user.id)):
                raise InvalidCode("Er zijn net al codes verstuurd. Wacht enkele minuten.")
            token, code = new_token(), digit_code(8)
            validity = self.sessions.limits.login_token
            s.add(
                LoginToken(
                    user_id=user.id, session_id=row.id, token_hash=digest(token),
                    code_hash=digest(code), expires_at=self.clock.now() + validity,
                )
            )  # fmt: skip
            minutes = int(validity.total_seconds() // 60)
            self.mailer.send(
                user.email,
                "Uw inlogcode",
                f"Beste {user.name},\n\nKlik op deze link om de aanmelding af te ronden:\n"
                f"{self.base_url}/aanmelden/token/{token}\n\nOf vul deze code in: {code}\n\n"
                f"De link en de code zijn {minutes} minuten geldig, en alleen in de browser "
                "waarin u de code heeft aangevraagd. Opent de link een andere browser? Kopieer "
                "hem dan naar de browser waarin u zich aanmeldt.\n",
            )
            self.security_log.record(s, "login_token_sent", user_id=user.id, context=context)

    def verify_login_token(
        self,
        session_token: str | None,
        context: RequestContext,
        *,
        token: str | None = None,
        code: str | None = None,
    ) -> SignInResult:
        def check(s: Session, user: User) -> None:
            row = self.sessions.row_for(s, session_token)
            assert row is not None
            now = self.clock.now()
            candidates = s.scalars(
                select(LoginToken).where(
                    LoginToken.user_id == user.id,
                    LoginToken.used_at.is_(None),
                    LoginToken.expires_at > now,
                )
            ).all()
            found = None
            for candidate in candidates:
                if token is not None and secrets.compare_digest(
                    candidate.token_hash, digest(token)
                ):
                    found = candidate
                if code is not None and candidate.session_id == row.id:
                    candidate.attempts += 1
                    if candidate.attempts <= LOGIN_TOKEN_ATTEMPTS and secrets.compare_digest(
                        candidate.code_hash, digest("".join(c for c in code if c.isdigit()))
                    ):
                        found = candidate
            if found is None or found.session_id != row.id:
                # A token from another browser session stays usable where it was asked for.
                raise InvalidCode(
                    "Deze inlogcode klopt niet, is verlopen of hoort bij een andere browser. "
                    "Gebruik de browser waarin u de code heeft aangevraagd."
                )
            found.used_at = now

        return self._with_factor(session_token, context, check)

    # -- re-authentication ------------------------------------------------------------------

    def reauthenticate(
        self, session_token: str | None, password: str, context: RequestContext
    ) -> None:
        """Confirm the password again before a sensitive change."""
        with self.db.begin() as s:
            row = self.sessions.row_for(s, session_token)
            if row is None or row.user_id is None or row.signed_in_at is None:
                raise SignInRefused("Uw sessie is verlopen. Meld u opnieuw aan.")
            user = s.get(User, row.user_id)
            assert user is not None
            correct = self.limiter.hit("password-account", user.email.lower()) and (
                self.passwords.verify(user.password_hash, password)
            )
            if correct:
                row.reauthenticated_at = self.clock.now()
                self.security_log.record(s, "reauthenticated", user_id=user.id, context=context)
            else:
                self.security_log.record(
                    s, "sign_in_failed", user_id=user.id, context=context,
                    detail="bevestiging mislukt",
                )  # fmt: skip
        if not correct:
            raise SignInRefused("Dit wachtwoord klopt niet.")

    def complete_enrolment(self, session_token: str | None, context: RequestContext) -> str:
        """After the wizard in a pending session: the user is signed in (new identifier)."""
        with self.db.begin() as s:
            row, user = self._session_user(s, session_token)
            if not self.two_factor.has_factor(s, user.id):
                raise InvalidCode("Stel eerst de tweestapsverificatie in.")
            if row.signed_in_at is not None:
                assert session_token is not None
                return session_token
            return self._second_factor_passed(s, row, user, context)
