"""Second factors: TOTP (RFC 6238), recovery codes, the wizard's activation code by mail.

A TOTP code is accepted once: the last accepted time step is stored and any code at or before it
refused. A phone one step (30 s) off is accepted; a code that fits further away (up to 10
minutes) is named as a clock problem instead of a wrong code.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zorgbroker.accounts.interfaces import (
    AccountError,
    Clock,
    ClockProblem,
    InvalidCode,
    Mailer,
    RateLimiter,
    RequestContext,
    SecretBox,
)
from zorgbroker.accounts.models import (
    ActivationCode,
    Passkey,
    RecoveryCode,
    TotpFactor,
    User,
)
from zorgbroker.accounts.security_log import SecurityLog
from zorgbroker.accounts.tokens import digest, normalise_code, typed_code

STEP_SECONDS = 30
#: Steps either side that are accepted as the phone's normal drift.
ACCEPTED_SKEW = 1
#: Steps either side searched to tell a clock problem from a wrong code.
CLOCK_PROBLEM_SKEW = 20
RECOVERY_CODES = 10
ACTIVATION_VALID = dt.timedelta(minutes=30)
ACTIVATION_ATTEMPTS = 5


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str


TOTP = "app"
PASSKEY = "passkey"


@dataclass(frozen=True)
class FactorView:
    """One second factor on the start page: `kind` and `id` name it for removal."""

    kind: str
    id: int
    name: str
    created_at: dt.datetime


def time_step(moment: dt.datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


class TwoFactorService:
    def __init__(
        self,
        db: sessionmaker[Session],
        clock: Clock,
        mailer: Mailer,
        secret_box: SecretBox,
        limiter: RateLimiter,
        security_log: SecurityLog,
        issuer: str = "zorgbroker",
    ) -> None:
        self.db = db
        self.clock = clock
        self.mailer = mailer
        self.secret_box = secret_box
        self.limiter = limiter
        self.security_log = security_log
        self.issuer = issuer

    # -- checking ---------------------------------------------------------------------------

    def has_factor(self, s: Session, user_id: int) -> bool:
        totp = s.scalar(
            select(TotpFactor.id).where(
                TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_not(None)
            )
        )
        passkey = s.scalar(select(Passkey.id).where(Passkey.user_id == user_id))
        return totp is not None or passkey is not None

    def user_has_factor(self, user_id: int) -> bool:
        with self.db() as s:
            return self.has_factor(s, user_id)

    def check_totp(self, s: Session, user_id: int, code: str, *, confirmed: bool = True) -> None:
        """Accept the code once (raises InvalidCode or ClockProblem)."""
        if not self.limiter.hit("code-account", str(user_id)):
            raise InvalidCode("Te veel pogingen. Wacht enkele minuten en probeer het opnieuw.")
        code = "".join(c for c in code if c.isdigit())
        query = select(TotpFactor).where(TotpFactor.user_id == user_id)
        query = query.where(
            TotpFactor.confirmed_at.is_not(None) if confirmed else TotpFactor.confirmed_at.is_(None)
        )
        factors = s.scalars(query.order_by(TotpFactor.id.desc())).all()
        if len(code) != 6 or not factors:
            raise InvalidCode("Deze code klopt niet.")
        now_step = time_step(self.clock.now())
        for factor in factors:
            totp = pyotp.TOTP(self.secret_box.decrypt(factor.secret_encrypted).decode())
            for offset in sorted(range(-CLOCK_PROBLEM_SKEW, CLOCK_PROBLEM_SKEW + 1), key=abs):
                step = now_step + offset
                if not secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
                    continue
                if abs(offset) > ACCEPTED_SKEW:
                    minutes = max(1, round(abs(offset) * STEP_SECONDS / 60))
                    direction = "achter" if offset < 0 else "voor"
                    raise ClockProblem(
                        f"De klok van uw telefoon loopt ongeveer {minutes} minuten {direction}. "
                        "Zet de tijd van uw telefoon op automatisch en probeer het opnieuw."
                    )
                if step <= factor.last_step:
                    raise InvalidCode(
                        "Deze code is al gebruikt. Wacht tot de app een nieuwe code toont."
                    )
                factor.last_step = step
                return
        raise InvalidCode("Deze code klopt niet.")

    def use_recovery_code(self, s: Session, user: User, code: str) -> int:
        """Use one recovery code; mails the user that it was used; returns how many are left."""
        if not self.limiter.hit("code-account", str(user.id)):
            raise InvalidCode("Te veel pogingen. Wacht enkele minuten en probeer het opnieuw.")
        wanted = digest(normalise_code(code))
        rows = s.scalars(
            select(RecoveryCode).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
        match = next((r for r in rows if secrets.compare_digest(r.code_hash, wanted)), None)
        if match is None:
            raise InvalidCode("Deze herstelcode klopt niet of is al gebruikt.")
        match.used_at = self.clock.now()
        left = len(rows) - 1
        self.mailer.send(
            user.email,
            "Er is een herstelcode gebruikt",
            f"Beste {user.name},\n\nEr is zojuist met een van uw herstelcodes aangemeld. "
            f"U heeft nog {left} ongebruikte herstelcode(s).\n\nWas u dit niet? Neem dan direct "
            "contact op met de beheerder van uw organisatie.\n",
        )
        return left

    # -- the wizard -------------------------------------------------------------------------

    def send_activation_code(self, user_id: int, context: RequestContext) -> None:
        """Step 1: a code by mail proves the address before a factor is tied to the account."""
        with self.db.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            if not self.limiter.hit("mail-account", str(user_id)):
                raise InvalidCode("Er zijn net al codes verstuurd. Wacht enkele minuten.")
            code = typed_code()
            s.add(
                ActivationCode(
                    user_id=user_id,
                    code_hash=digest(normalise_code(code)),
                    expires_at=self.clock.now() + ACTIVATION_VALID,
                )
            )
            self.mailer.send(
                user.email,
                "Uw activeringscode voor tweestapsverificatie",
                f"Beste {user.name},\n\nUw activeringscode is: {code}\n\nVul deze code in de "
                "wizard in. De code is 30 minuten geldig.\n",
            )
            self.security_log.record(s, "activation_code_sent", user_id=user_id, context=context)

    def check_activation_code(self, user_id: int, code: str) -> None:
        with self.db.begin() as s:
            now = self.clock.now()
            rows = s.scalars(
                select(ActivationCode).where(
                    ActivationCode.user_id == user_id,
                    ActivationCode.used_at.is_(None),
                    ActivationCode.expires_at > now,
                )
            ).all()
            wanted = digest(normalise_code(code))
            for row in rows:
                row.attempts += 1
            match = next(
                (
                    r
                    for r in rows
                    if r.attempts <= ACTIVATION_ATTEMPTS
                    and secrets.compare_digest(r.code_hash, wanted)
                ),
                None,
            )
            if match is not None:
                match.used_at = now
        # Raised after the commit: the attempts counted above must stay counted.
        if match is None:
            raise InvalidCode("Deze activeringscode klopt niet of is verlopen.")

    def activated(self, user_id: int) -> bool:
        """Whether the wizard's activation code was entered (within its validity)."""
        with self.db() as s:
            found = s.scalar(
                select(ActivationCode.id).where(
                    ActivationCode.user_id == user_id,
                    ActivationCode.used_at.is_not(None),
                    ActivationCode.expires_at > self.clock.now(),
                )
            )
            return found is not None

    def begin_totp(self, user_id: int) -> TotpEnrolment:
        """Step 2: a fresh secret, shown as a QR code, not yet trusted."""
        with self.db.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            for old in s.scalars(
                select(TotpFactor).where(
                    TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_(None)
                )
            ):
                s.delete(old)
            secret = pyotp.random_base32()
            s.add(
                TotpFactor(
                    user_id=user_id,
                    secret_encrypted=self.secret_box.encrypt(secret.encode()),
                    created_at=self.clock.now(),
                )
            )
            uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=self.issuer)
            return TotpEnrolment(secret, uri)

    def pending_enrolment(self, user_id: int) -> TotpEnrolment | None:
        """The secret begun but not yet confirmed (to show its QR code again)."""
        with self.db() as s:
            user = s.get(User, user_id)
            factor = s.scalars(
                select(TotpFactor)
                .where(TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_(None))
                .order_by(TotpFactor.id.desc())
            ).first()
            if user is None or factor is None:
                return None
            secret = self.secret_box.decrypt(factor.secret_encrypted).decode()
            uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=self.issuer)
            return TotpEnrolment(secret, uri)

    def confirm_totp(self, user_id: int, code: str, context: RequestContext) -> list[str]:
        """Step 3: the first code confirms the factor; returns recovery codes, shown once."""
        with self.db.begin() as s:
            self.check_totp(s, user_id, code, confirmed=False)
            factor = s.scalars(
                select(TotpFactor)
                .where(TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_(None))
                .order_by(TotpFactor.id.desc())
            ).first()
            assert factor is not None
            factor.confirmed_at = self.clock.now()
            self.security_log.record(s, "totp_added", user_id=user_id, context=context)
            return self._new_recovery_codes(s, user_id, context)

    def new_recovery_codes(self, user_id: int, context: RequestContext) -> list[str]:
        with self.db.begin() as s:
            return self._new_recovery_codes(s, user_id, context)

    def _new_recovery_codes(self, s: Session, user_id: int, context: RequestContext) -> list[str]:
        for old in s.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)):
            s.delete(old)
        # 3 groups of 5 from 31 symbols: over 70 bits, too many to search the stored digests.
        codes = [typed_code(groups=3) for _ in range(RECOVERY_CODES)]
        now = self.clock.now()
        for code in codes:
            s.add(RecoveryCode(user_id=user_id, code_hash=digest(normalise_code(code)),
                               created_at=now))  # fmt: skip
        self.security_log.record(s, "recovery_codes_created", user_id=user_id, context=context)
        return codes

    # -- listing and removing ---------------------------------------------------------------

    def _factor_rows(self, s: Session, user_id: int) -> list[TotpFactor | Passkey]:
        apps = s.scalars(
            select(TotpFactor)
            .where(TotpFactor.user_id == user_id, TotpFactor.confirmed_at.is_not(None))
            .order_by(TotpFactor.id)
        ).all()
        keys = s.scalars(select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id))
        return [*apps, *keys]

    def factors(self, user_id: int) -> list[FactorView]:
        with self.db() as s:
            return [
                FactorView(TOTP, row.id, "Authenticator-app", row.created_at)
                if isinstance(row, TotpFactor)
                else FactorView(PASSKEY, row.id, f"Passkey {row.name}".strip(), row.created_at)
                for row in self._factor_rows(s, user_id)
            ]

    def remove_factor(
        self, user_id: int, kind: str, factor_id: int, context: RequestContext
    ) -> None:
        """Remove one of the user's own factors and tell them by mail; the last one stays when
        the organisation requires two-step sign-in. The caller asks for re-authentication."""
        with self.db.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            rows = self._factor_rows(s, user_id)
            wanted = TotpFactor if kind == TOTP else Passkey
            row = next((r for r in rows if isinstance(r, wanted) and r.id == factor_id), None)
            if row is None:
                raise AccountError("Deze tweede stap bestaat niet (meer).")
            if len(rows) == 1 and user.organisation.two_step_required:
                raise AccountError(
                    "Dit is uw enige tweede stap en uw organisatie vereist aanmelden in twee "
                    "stappen. Voeg eerst een andere tweede stap toe (een passkey of de "
                    "authenticator-app) en verwijder deze daarna."
                )
            what = "de authenticator-app" if kind == TOTP else "een passkey"
            s.delete(row)
            self.security_log.record(
                s, "totp_removed" if kind == TOTP else "passkey_removed", user_id=user_id,
                organisation_id=user.organisation_id, context=context,
            )  # fmt: skip
            self.mailer.send(
                user.email,
                "Tweede stap verwijderd",
                f"Beste {user.name},\n\nUit uw zorgbroker-account is {what} verwijderd als "
                "tweede stap bij het aanmelden.\n\nHeeft u dit niet zelf gedaan? Wijzig dan "
                "direct uw wachtwoord en neem contact op met de beheerder van uw organisatie.\n",
            )
