"""Managing organisations and users: policies, invitations, passwords, roles, disabling.

Signing in lives in `authentication`, second factors in `two_factor`, sessions in `sessions`;
`build_services` hands them all their collaborators (the composition root calls it).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from zorgbroker.accounts.api_tokens import ApiTokenService
from zorgbroker.accounts.authentication import AuthenticationService
from zorgbroker.accounts.interfaces import (
    AccountError,
    BreachedPasswordChecker,
    Clock,
    InvalidLink,
    Mailer,
    NotAllowed,
    RateLimiter,
    RequestContext,
    SecretBox,
    WeakPassword,
)
from zorgbroker.accounts.models import (
    ORGANISATION_ADMIN,
    REGISTRY_ADMIN,
    ROLES,
    EmailChange,
    Invitation,
    Organisation,
    PasswordHistory,
    User,
    UserRole,
)
from zorgbroker.accounts.passkeys import PasskeyService
from zorgbroker.accounts.passwords import PasswordService, Strength, personal_words
from zorgbroker.accounts.policy import DEFAULT_POLICY, PasswordPolicy
from zorgbroker.accounts.security_log import SecurityLog
from zorgbroker.accounts.sessions import SessionLimits, SessionService
from zorgbroker.accounts.tokens import digest, new_token
from zorgbroker.accounts.two_factor import TwoFactorService

POLICY_FIELDS = [f.name for f in dataclasses.fields(PasswordPolicy)]
#: How long the confirmation link to a new e-mail address works.
EMAIL_CHANGE_VALID = dt.timedelta(hours=24)


@dataclass(frozen=True)
class UserView:
    id: int
    email: str
    name: str
    organisation_id: int
    organisation: str
    #: The organisation's AGB code; None for an organisation that sends no uploads.
    organisation_agb: str | None
    roles: frozenset[str]
    is_active: bool
    has_password: bool
    last_sign_in_at: dt.datetime | None


def policy_of(org: Organisation) -> PasswordPolicy:
    return PasswordPolicy(**{name: getattr(org, name) for name in POLICY_FIELDS})


def _view(user: User) -> UserView:
    return UserView(
        user.id, user.email, user.name, user.organisation_id, user.organisation.name,
        user.organisation.agb, user.role_names, user.is_active, user.password_hash is not None,
        user.last_sign_in_at,
    )  # fmt: skip


class AccountService:
    def __init__(
        self,
        db: sessionmaker[Session],
        clock: Clock,
        mailer: Mailer,
        passwords: PasswordService,
        sessions: SessionService,
        security_log: SecurityLog,
        base_url: str = "http://localhost:8000",
    ) -> None:
        self.db = db
        self.clock = clock
        self.mailer = mailer
        self.passwords = passwords
        self.sessions = sessions
        self.security_log = security_log
        self.base_url = base_url.rstrip("/")

    # -- organisations ----------------------------------------------------------------------

    def create_organisation(
        self,
        name: str,
        policy: PasswordPolicy = DEFAULT_POLICY,
        *,
        is_registry: bool = False,
        agb: str | None = None,
    ) -> int:
        if agb is not None and not (len(agb) == 8 and agb.isdigit()):
            raise AccountError(f"'{agb}' is geen AGB-code van 8 cijfers.")
        with self.db.begin() as s:
            org = Organisation(
                name=name, is_registry=is_registry, agb=agb, created_at=self.clock.now(),
                **dataclasses.asdict(policy),
            )  # fmt: skip
            s.add(org)
            s.flush()
            return org.id

    def find_organisation(self, name: str) -> int | None:
        """The organisation of this name, if there is one (set-ups that may run again)."""
        with self.db() as s:
            found: int | None = s.scalar(select(Organisation.id).where(Organisation.name == name))
            return found

    def organisation_policy(self, organisation_id: int) -> PasswordPolicy:
        with self.db() as s:
            org = s.get(Organisation, organisation_id)
            assert org is not None
            return policy_of(org)

    def organisation_name(self, organisation_id: int) -> str:
        with self.db() as s:
            org = s.get(Organisation, organisation_id)
            assert org is not None
            return org.name

    def _authorize(self, s: Session, actor_id: int | None, organisation_id: int) -> None:
        """Organisation administrators manage their own organisation; registry administrators
        every organisation. `None` is the system itself (the demo, the CLI)."""
        if actor_id is None:
            return
        actor = s.get(User, actor_id)
        if actor is None or not actor.is_active:
            raise NotAllowed("U heeft hiervoor geen rechten.")
        roles = actor.role_names
        if REGISTRY_ADMIN in roles:
            return
        if ORGANISATION_ADMIN in roles and actor.organisation_id == organisation_id:
            return
        raise NotAllowed("U heeft hiervoor geen rechten.")

    def set_policy(
        self,
        actor_id: int | None,
        organisation_id: int,
        policy: PasswordPolicy,
        context: RequestContext,
    ) -> None:
        problems = policy.problems()
        if problems:
            raise AccountError(" ".join(problems))
        with self.db.begin() as s:
            self._authorize(s, actor_id, organisation_id)
            org = s.get(Organisation, organisation_id)
            assert org is not None
            changed = [n for n in POLICY_FIELDS if getattr(org, n) != getattr(policy, n)]
            for name in changed:
                setattr(org, name, getattr(policy, name))
            self.security_log.record(
                s, "policy_changed", user_id=actor_id, organisation_id=organisation_id,
                context=context, detail=", ".join(changed),
            )  # fmt: skip

    # -- users ------------------------------------------------------------------------------

    def user(self, user_id: int) -> UserView:
        with self.db() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotAllowed("Deze gebruiker bestaat niet.")
            return _view(user)

    def find_user(self, email: str) -> int | None:
        """The user with this e-mail address (in any case), if there is one."""
        with self.db() as s:
            found: int | None = s.scalar(
                select(User.id).where(func.lower(User.email) == email.strip().lower())
            )
            return found

    def users(self, organisation_id: int) -> list[UserView]:
        with self.db() as s:
            rows = s.scalars(
                select(User).where(User.organisation_id == organisation_id).order_by(User.name)
            ).all()
            return [_view(u) for u in rows]

    def invite(
        self,
        actor_id: int | None,
        organisation_id: int,
        email: str,
        name: str,
        roles: Iterable[str],
        context: RequestContext,
    ) -> int:
        """Create the user and mail a one-time link to set a password."""
        email = email.strip()
        roles = set(roles)
        if "@" not in email or len(email) > 320:
            raise AccountError("Vul een geldig e-mailadres in.")
        if not name.strip():
            raise AccountError("Vul een naam in.")
        with self.db.begin() as s:
            self._authorize(s, actor_id, organisation_id)
            org = s.get(Organisation, organisation_id)
            assert org is not None
            self._check_roles(s, actor_id, org, roles)
            if s.scalar(select(User.id).where(func.lower(User.email) == email.lower())):
                raise AccountError("Er is al een gebruiker met dit e-mailadres.")
            user = User(
                organisation_id=organisation_id, email=email, name=name.strip(),
                created_at=self.clock.now(), roles=[UserRole(role=r) for r in sorted(roles)],
            )  # fmt: skip
            s.add(user)
            s.flush()
            link = self._invitation_link(s, user)
            self.mailer.send(
                email,
                "Uitnodiging voor zorgbroker",
                f"Beste {user.name},\n\nU bent uitgenodigd voor zorgbroker namens {org.name}. "
                f"Stel via deze link uw wachtwoord in:\n{link}\n\nDe link werkt één keer en is "
                "7 dagen geldig.\n",
            )
            self.security_log.record(
                s, "user_invited", user_id=user.id, organisation_id=organisation_id,
                context=context, detail=f"door gebruiker {actor_id}" if actor_id else "",
            )  # fmt: skip
            return user.id

    def _invitation_link(self, s: Session, user: User) -> str:
        token = new_token()
        s.add(
            Invitation(
                user_id=user.id, token_hash=digest(token),
                expires_at=self.clock.now() + SessionLimits().invitation,
            )
        )  # fmt: skip
        return f"{self.base_url}/uitnodiging/{token}"

    def _check_roles(
        self, s: Session, actor_id: int | None, org: Organisation, roles: set[str]
    ) -> None:
        if not roles <= set(ROLES):
            raise AccountError("Onbekende rol.")
        if REGISTRY_ADMIN in roles and not org.is_registry:
            raise AccountError("Alleen medewerkers van de registratie kunnen die rol krijgen.")
        if REGISTRY_ADMIN in roles and actor_id is not None:
            actor = s.get(User, actor_id)
            if actor is None or REGISTRY_ADMIN not in actor.role_names:
                raise NotAllowed("U heeft hiervoor geen rechten.")

    def _invitation(self, s: Session, token: str) -> Invitation:
        row = s.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
        if row is None or row.used_at is not None or row.expires_at <= self.clock.now():
            raise InvalidLink(
                "Deze link is niet (meer) geldig. Vraag de beheerder om een nieuwe uitnodiging."
            )
        return row

    def invitation(self, token: str) -> tuple[UserView, PasswordPolicy]:
        """Whom a still valid invitation link is for, and the policy the password must meet."""
        with self.db() as s:
            row = self._invitation(s, token)
            user = s.get(User, row.user_id)
            assert user is not None
            return _view(user), policy_of(user.organisation)

    def rate_password(self, user_id: int, password: str) -> tuple[list[str], Strength]:
        """The strength meter's answer for a password being typed (nothing is stored)."""
        with self.db() as s:
            user = s.get(User, user_id)
            assert user is not None
            policy = policy_of(user.organisation)
            return self.passwords.problems(
                password, policy, personal=personal_words(user.name, user.email,
                                                          user.organisation.name)
            )  # fmt: skip

    def _set_password(self, s: Session, user: User, password: str) -> None:
        policy = policy_of(user.organisation)
        earlier = []
        if policy.history:
            earlier = list(
                s.scalars(
                    select(PasswordHistory.password_hash)
                    .where(PasswordHistory.user_id == user.id)
                    .order_by(PasswordHistory.id.desc())
                    .limit(policy.history)
                )
            )
        problems, measured = self.passwords.problems(
            password, policy,
            personal=personal_words(user.name, user.email, user.organisation.name),
            earlier_hashes=earlier,
        )  # fmt: skip
        if problems:
            raise WeakPassword(problems, measured.percent, policy.min_strength)
        now = self.clock.now()
        user.password_hash = self.passwords.hash(password)
        user.password_changed_at = now
        user.failed_attempts = 0
        user.locked_until = None
        s.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now))

    def accept_invitation(self, token: str, password: str, context: RequestContext) -> int:
        """Set the password through the one-time link; every open session of the user ends
        (the link also serves a password reset)."""
        with self.db.begin() as s:
            row = self._invitation(s, token)
            user = s.get(User, row.user_id)
            assert user is not None
            self._set_password(s, user, password)
            row.used_at = self.clock.now()
            self.sessions.end_all(s, user.id, "password_reset", context=context)
            self.security_log.record(
                s, "password_set", user_id=user.id, organisation_id=user.organisation_id,
                context=context,
            )  # fmt: skip
            return user.id

    def change_password(
        self,
        user_id: int,
        current: str,
        new: str,
        context: RequestContext,
        *,
        end_other_sessions_than: int | None = None,
    ) -> None:
        with self.db.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            if not self.passwords.verify(user.password_hash, current):
                raise AccountError("Het huidige wachtwoord klopt niet.")
            self._set_password(s, user, new)
            self.security_log.record(s, "password_changed", user_id=user.id, context=context)
            if end_other_sessions_than is not None:
                self.sessions.end_all(
                    s, user.id, "password_changed", keep=end_other_sessions_than, context=context
                )

    # -- e-mail address ----------------------------------------------------------------------

    def _address_taken(self, s: Session, email: str, user_id: int) -> bool:
        other = s.scalar(select(User.id).where(func.lower(User.email) == email.lower()))
        return other is not None and other != user_id

    def request_email_change(
        self, user_id: int, new_email: str, limiter: RateLimiter, context: RequestContext
    ) -> None:
        """Mail a one-time link to the new address and a notice to the current one; nothing
        changes until the link is followed (so a typo cannot lock the user out). The caller
        asks for re-authentication first; the account's mail limit keeps the portal from
        being used to flood someone else's mailbox."""
        new_email = new_email.strip()
        if "@" not in new_email or len(new_email) > 320 or any(c.isspace() for c in new_email):
            raise AccountError("Vul een geldig e-mailadres in.")
        with self.db.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            if new_email.lower() == user.email.lower():
                raise AccountError("Dit is al uw e-mailadres.")
            if self._address_taken(s, new_email, user.id):
                raise AccountError("Er is al een gebruiker met dit e-mailadres.")
            if not limiter.hit("mail-account", str(user.id)):
                raise AccountError("Er zijn net al mails verstuurd. Wacht enkele minuten.")
            token = new_token()
            s.add(
                EmailChange(
                    user_id=user.id, new_email=new_email, token_hash=digest(token),
                    expires_at=self.clock.now() + EMAIL_CHANGE_VALID,
                )
            )  # fmt: skip
            self.mailer.send(
                new_email,
                "Bevestig uw nieuwe e-mailadres",
                f"Beste {user.name},\n\nBevestig via deze link dat u zorgbroker voortaan met dit "
                f"e-mailadres gebruikt:\n{self.base_url}/e-mailadres/bevestigen/{token}\n\n"
                "De link werkt één keer en is 24 uur geldig. Tot u hem volgt, blijft uw oude "
                "e-mailadres in gebruik.\n",
            )
            self.mailer.send(
                user.email,
                "Wijziging van uw e-mailadres aangevraagd",
                f"Beste {user.name},\n\nIn zorgbroker is gevraagd uw e-mailadres te wijzigen in "
                f"{new_email}. De wijziging gaat pas in als de link in de mail aan dat adres "
                "wordt gevolgd.\n\nHeeft u dit niet zelf gedaan? Wijzig dan uw wachtwoord en "
                "neem contact op met de beheerder van uw organisatie.\n",
            )
            self.security_log.record(
                s, "email_change_requested", user_id=user.id,
                organisation_id=user.organisation_id, context=context,
            )  # fmt: skip

    def _email_change(self, s: Session, token: str) -> EmailChange:
        row = s.scalar(select(EmailChange).where(EmailChange.token_hash == digest(token)))
        if row is None or row.used_at is not None or row.expires_at <= self.clock.now():
            raise InvalidLink(
                "Deze link is niet (meer) geldig. Vraag de wijziging opnieuw aan via "
                "'E-mailadres wijzigen'."
            )
        return row

    def email_change(self, token: str) -> str:
        """The new address a still valid confirmation link is for (a GET changes nothing)."""
        with self.db() as s:
            return self._email_change(s, token).new_email

    def confirm_email_change(self, token: str, context: RequestContext) -> int:
        """Follow the link: the address changes, the link and every other pending change of
        this user stop working."""
        with self.db.begin() as s:
            row = self._email_change(s, token)
            user = s.get(User, row.user_id)
            assert user is not None
            if self._address_taken(s, row.new_email, user.id):
                raise AccountError("Er is inmiddels een andere gebruiker met dit e-mailadres.")
            now = self.clock.now()
            for pending in s.scalars(
                select(EmailChange).where(
                    EmailChange.user_id == user.id, EmailChange.used_at.is_(None)
                )
            ):
                pending.used_at = now
            old = user.email
            user.email = row.new_email
            self.security_log.record(
                s, "email_changed", user_id=user.id, organisation_id=user.organisation_id,
                context=context,
            )  # fmt: skip
            self.mailer.send(
                old,
                "Uw e-mailadres is gewijzigd",
                f"Beste {user.name},\n\nUw e-mailadres in zorgbroker is gewijzigd in "
                f"{row.new_email}. Mails van zorgbroker gaan voortaan naar dat adres.\n\n"
                "Heeft u dit niet zelf gedaan? Neem dan direct contact op met de beheerder van "
                "uw organisatie.\n",
            )
            return user.id

    def request_password_reset(self, email: str, limiter: RateLimiter,
                               context: RequestContext) -> None:  # fmt: skip
        """Mail a reset link when the account exists; the caller shows one answer either way."""
        with self.db.begin() as s:
            user = s.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
            if user is None or not user.is_active:
                return
            if not limiter.hit("mail-account", str(user.id)):
                return
            link = self._invitation_link(s, user)
            self.mailer.send(
                user.email,
                "Nieuw wachtwoord instellen",
                f"Beste {user.name},\n\nStel via deze link een nieuw wachtwoord in:\n{link}\n\n"
                "Heeft u dit niet aangevraagd? Dan kunt u deze mail negeren.\n",
            )
            self.security_log.record(s, "password_reset_requested", user_id=user.id,
                                     context=context)  # fmt: skip

    def set_roles(
        self, actor_id: int | None, user_id: int, roles: Iterable[str], context: RequestContext
    ) -> None:
        roles = set(roles)
        with self.db.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            self._authorize(s, actor_id, user.organisation_id)
            self._check_roles(s, actor_id, user.organisation, roles)
            if actor_id == user_id and ORGANISATION_ADMIN in user.role_names - roles:
                raise AccountError("U kunt uw eigen beheerdersrol niet intrekken.")
            user.roles = [UserRole(role=r) for r in sorted(roles)]
            self.security_log.record(
                s, "roles_changed", user_id=user.id, organisation_id=user.organisation_id,
                context=context, detail=f"{','.join(sorted(roles))}; door gebruiker {actor_id}",
            )  # fmt: skip

    def disable(
        self, actor_id: int | None, user_id: int, reason: str, context: RequestContext
    ) -> None:
        """Disable the account; its open sessions end at their next request."""
        with self.db.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            self._authorize(s, actor_id, user.organisation_id)
            if actor_id == user_id:
                raise AccountError("U kunt uw eigen account niet uitschakelen.")
            user.is_active = False
            user.disabled_reason = reason[:200]
            self.sessions.end_all(s, user.id, "disabled", context=context)
            self.security_log.record(
                s, "user_disabled", user_id=user.id, organisation_id=user.organisation_id,
                context=context, detail=f"door gebruiker {actor_id}",
            )  # fmt: skip

    def enable(self, actor_id: int | None, user_id: int, context: RequestContext) -> None:
        with self.db.begin() as s:
            user = s.get(User, user_id)
            assert user is not None
            self._authorize(s, actor_id, user.organisation_id)
            user.is_active = True
            user.disabled_reason = None
            user.last_sign_in_at = self.clock.now()
            self.security_log.record(
                s, "user_enabled", user_id=user.id, organisation_id=user.organisation_id,
                context=context,
            )  # fmt: skip


@dataclass(frozen=True)
class AccountServices:
    """Everything the portal needs from the accounts domain."""

    accounts: AccountService
    authentication: AuthenticationService
    two_factor: TwoFactorService
    sessions: SessionService
    security_log: SecurityLog
    passwords: PasswordService
    limiter: RateLimiter
    db: sessionmaker[Session]
    api_tokens: ApiTokenService


def build_services(
    db: sessionmaker[Session],
    *,
    clock: Clock,
    limiter: RateLimiter,
    mailer: Mailer,
    breached: BreachedPasswordChecker,
    secret_box: SecretBox,
    base_url: str = "http://localhost:8000",
    session_limits: SessionLimits = SessionLimits(),
    passwords: PasswordService | None = None,
) -> AccountServices:
    """Wire the accounts services from their collaborators (for a composition root)."""
    security_log = SecurityLog(clock)
    passwords = passwords or PasswordService(breached)
    sessions = SessionService(db, clock, security_log, session_limits)
    two_factor = TwoFactorService(db, clock, mailer, secret_box, limiter, security_log)
    address = urlsplit(base_url)
    passkeys = PasskeyService(
        db, clock, security_log, rp_id=address.hostname or "localhost",
        origin=f"{address.scheme}://{address.netloc}",
    )  # fmt: skip
    authentication = AuthenticationService(
        db, clock, limiter, passwords, sessions, two_factor, mailer, security_log, base_url,
        passkeys,
    )  # fmt: skip
    accounts = AccountService(db, clock, mailer, passwords, sessions, security_log, base_url)
    return AccountServices(
        accounts, authentication, two_factor, sessions, security_log, passwords, limiter, db,
        ApiTokenService(db, clock, security_log),
    )  # fmt: skip
