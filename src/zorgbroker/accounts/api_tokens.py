"""API tokens for machine clients (`/api/v1`, `zorgbroker submit --portal`).

A token reads ``zbt_<public id>_<secret>``: the public id (shown in the portal, so a user can tell
their tokens apart) finds the row, the secret (256 random bits) is compared by its SHA-256
digest. The whole token is shown once, when it is made; the database keeps only the digest.

A token acts for its user in the organisation it was made in: it stops working when it is
revoked or expires, when the user is disabled, or when the user moved to another organisation.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from zorgbroker.accounts.interfaces import AccountError, Clock, NotAllowed, RequestContext
from zorgbroker.accounts.models import (
    ORGANISATION_ADMIN,
    REGISTRY_ADMIN,
    UPLOADER,
    ApiToken,
    Organisation,
    User,
)
from zorgbroker.accounts.security_log import SecurityLog
from zorgbroker.accounts.tokens import digest, same

PREFIX = "zbt_"
#: Last use is written at most this often per token: no write on every request.
LAST_USED_EVERY = dt.timedelta(minutes=1)
#: The roles that may hold a token: those who upload or administer an organisation's uploads.
TOKEN_ROLES = frozenset({UPLOADER, ORGANISATION_ADMIN, REGISTRY_ADMIN})
#: Compared against when a token's public id is unknown, so that case takes as long.
_DUMMY_HASH = digest(secrets.token_urlsafe(32))


@dataclass(frozen=True)
class NewToken:
    id: int
    #: The whole token: shown once, never stored.
    secret: str
    shown_as: str


@dataclass(frozen=True)
class TokenView:
    id: int
    #: What the portal shows to recognise the token (``zbt_3fa9c1d2e4b5…``).
    shown_as: str
    name: str
    user_id: int
    user_name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class ApiPrincipal:
    """Who a valid token acts for."""

    token_id: int
    user_id: int
    user_email: str
    organisation_id: int
    #: The AGB code the organisation's uploads are filed under; None for one that sends nothing.
    organisation_agb: str | None
    #: Registry administrators see every organisation's uploads.
    sees_all: bool


def shown_as(public_id: str) -> str:
    return f"{PREFIX}{public_id}…"


def _parse(token: str) -> tuple[str, str] | None:
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    public_id, _, secret = token[len(PREFIX) :].partition("_")
    if not public_id or not secret:
        return None
    return public_id, secret


def _view(token: ApiToken, user: User) -> TokenView:
    return TokenView(
        token.id, shown_as(token.public_id), token.name, token.user_id, user.name,
        token.created_at, token.last_used_at, token.expires_at, token.revoked_at,
    )  # fmt: skip


class ApiTokenService:
    def __init__(self, db: sessionmaker[Session], clock: Clock, security_log: SecurityLog) -> None:
        self.db = db
        self.clock = clock
        self.security_log = security_log

    def create(
        self,
        user_id: int,
        name: str,
        context: RequestContext,
        *,
        valid_for: dt.timedelta | None = None,
    ) -> NewToken:
        """A new token for the user's own organisation; its secret is in the answer only."""
        name = " ".join(name.split())
        if not name:
            raise AccountError("Geef de sleutel een naam, bijvoorbeeld de naam van de server.")
        if len(name) > 100:
            raise AccountError("De naam van de sleutel is te lang (ten hoogste 100 tekens).")
        with self.db.begin() as s:
            user = s.get(User, user_id)
            if user is None or not user.is_active or not (user.role_names & TOKEN_ROLES):
                raise NotAllowed("U mag geen API-sleutels maken.")
            public_id = secrets.token_hex(6)
            secret = secrets.token_urlsafe(32)
            now = self.clock.now()
            token = ApiToken(
                public_id=public_id, secret_hash=digest(secret), name=name, user_id=user.id,
                organisation_id=user.organisation_id, created_at=now,
                expires_at=now + valid_for if valid_for else None,
            )  # fmt: skip
            s.add(token)
            s.flush()
            self.security_log.record(
                s, "api_token_created", user_id=user.id, organisation_id=user.organisation_id,
                context=context, detail=f"{shown_as(public_id)} {name}",
            )  # fmt: skip
            return NewToken(token.id, f"{PREFIX}{public_id}_{secret}", shown_as(public_id))

    def list(self, actor_id: int) -> list[TokenView]:
        """The tokens the actor may see: their own, and an organisation administrator's
        organisation's; newest first."""
        with self.db() as s:
            actor = s.get(User, actor_id)
            if actor is None:
                return []
            query = select(ApiToken, User).join(User, User.id == ApiToken.user_id)
            if ORGANISATION_ADMIN in actor.role_names:
                query = query.where(ApiToken.organisation_id == actor.organisation_id)
            else:
                query = query.where(ApiToken.user_id == actor.id)
            rows = s.execute(query.order_by(ApiToken.id.desc())).all()
            return [_view(token, user) for token, user in rows]

    def revoke(self, actor_id: int, token_id: int, context: RequestContext) -> None:
        """Revoke a token: its own user's, or one of their organisation's by its administrator.
        Another's token is answered as an unknown one."""
        with self.db.begin() as s:
            actor = s.get(User, actor_id)
            token = s.get(ApiToken, token_id)
            allowed = (
                actor is not None
                and token is not None
                and (
                    token.user_id == actor.id
                    or (
                        ORGANISATION_ADMIN in actor.role_names
                        and token.organisation_id == actor.organisation_id
                    )
                )
            )
            if not allowed or token is None:
                raise NotAllowed("Deze API-sleutel bestaat niet.")
            if token.revoked_at is not None:
                return
            token.revoked_at = self.clock.now()
            self.security_log.record(
                s, "api_token_revoked", user_id=token.user_id,
                organisation_id=token.organisation_id, context=context,
                detail=f"{shown_as(token.public_id)} door gebruiker {actor_id}",
            )  # fmt: skip

    def verify(self, token: str) -> ApiPrincipal | None:
        """Who the token acts for; None for a malformed, unknown, revoked or expired token, or
        one whose user is disabled or no longer in the token's organisation. The secret is
        compared in constant time, also when the public id is unknown."""
        parsed = _parse(token)
        public_id, secret = parsed if parsed else ("", "")
        now = self.clock.now()
        with self.db() as s:
            row = s.execute(
                select(ApiToken, User, Organisation)
                .join(User, User.id == ApiToken.user_id)
                .join(Organisation, Organisation.id == ApiToken.organisation_id)
                .where(ApiToken.public_id == public_id)
            ).first()
            found, user, organisation = row if row else (None, None, None)
            matches = same(digest(secret), found.secret_hash if found else _DUMMY_HASH)
            if (
                not matches
                or found is None
                or user is None
                or organisation is None
                or found.revoked_at is not None
                or (found.expires_at is not None and found.expires_at <= now)
                or not user.is_active
                or user.organisation_id != found.organisation_id
            ):
                return None
            principal = ApiPrincipal(
                found.id, user.id, user.email, organisation.id, organisation.agb,
                REGISTRY_ADMIN in user.role_names and organisation.is_registry,
            )  # fmt: skip
            stale = found.last_used_at is None or now - found.last_used_at >= LAST_USED_EVERY
        if stale:
            self._touch(principal.token_id, now)
        return principal

    def _touch(self, token_id: int, now: dt.datetime) -> None:
        # Conditional, so that processes racing on one token write it once.
        with self.db.begin() as s:
            s.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    or_(
                        ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at <= now - LAST_USED_EVERY,
                    ),
                )
                .values(last_used_at=now)
            )
