"""The accounts domain's tables: organisations and their password policy, users and roles,
passwords and their history, second factors, login tokens, sessions, browsers, the security log.

Secrets are never stored as given: passwords as argon2id hashes, recovery codes and every random
identifier (session, browser, login token, invitation) as SHA-256 digests (they carry at least
128 bits of randomness, so a fast digest cannot be searched), TOTP secrets encrypted by the
`SecretBox` collaborator. Tables carry an `account_` prefix: they share the registry's database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

UPLOADER = "uploader"
ORGANISATION_ADMIN = "organisation_admin"
REGISTRY_ADMIN = "registry_admin"
ROLES = (UPLOADER, ORGANISATION_ADMIN, REGISTRY_ADMIN)
ROLE_LABELS = {
    UPLOADER: "aanleveraar",
    ORGANISATION_ADMIN: "beheerder organisatie",
    REGISTRY_ADMIN: "beheerder registratie",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A moment in UTC, aware on the way out on both databases (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Organisation(Base):
    __tablename__ = "account_organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: The registry's own organisation holds the registry administrators.
    is_registry: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The organisation's AGB code (8 digits): what its uploads are filed under at the registry.
    #: None for organisations that send nothing (the registry's own).
    agb: Mapped[str | None] = mapped_column(String(8), unique=True)
    # The policy fields practices know from their own systems; see `policy.PasswordPolicy`.
    min_strength: Mapped[int] = mapped_column(Integer)
    min_length: Mapped[int] = mapped_column(Integer)
    change_after_days: Mapped[int] = mapped_column(Integer)
    warn_days: Mapped[int] = mapped_column(Integer)
    disable_after_days: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    lock_seconds: Mapped[int] = mapped_column(Integer)
    history: Mapped[int] = mapped_column(Integer)
    two_step_required: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    users: Mapped[list[User]] = relationship(back_populates="organisation")


class User(Base):
    __tablename__ = "account_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey(Organisation.id), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    #: Failed password attempts from browsers that never signed in to this account.
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    organisation: Mapped[Organisation] = relationship(back_populates="users")
    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(r.role for r in self.roles)


class UserRole(Base):
    __tablename__ = "account_user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))


class PasswordHistory(Base):
    __tablename__ = "account_password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Invitation(Base):
    """A one-time link to set a first password (or a new one after a reset)."""

    __tablename__ = "account_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class EmailChange(Base):
    """A one-time link mailed to a new address: the address changes only when it is followed."""

    __tablename__ = "account_email_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    new_email: Mapped[str] = mapped_column(String(320))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class TotpFactor(Base):
    __tablename__ = "account_totp_factors"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    #: The base32 secret, encrypted by the SecretBox collaborator.
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    #: Set once the user confirmed the factor with a first code.
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    #: The last accepted RFC 6238 time step: codes at or before it are refused (no replay).
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class ActivationCode(Base):
    """The code mailed at the wizard's first step: proves the address before a factor is set."""

    __tablename__ = "account_activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RecoveryCode(Base):
    __tablename__ = "account_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Passkey(Base):
    __tablename__ = "account_passkeys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class LoginToken(Base):
    """A mailed link and code, valid only in the session that asked for it."""

    __tablename__ = "account_login_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(Integer, index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A browser session, stored server-side; the cookie holds the identifier, we its digest."""

    __tablename__ = "account_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    #: The password step passed (the user is known, the second factor may still be due).
    password_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    #: The second factor passed (or not needed): the session is signed in.
    signed_in_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    #: Latest proof of the password or a factor, for re-authentication before sensitive changes.
    reauthenticated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    #: A WebAuthn challenge waiting for its answer.
    challenge: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(40))
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(64), default="")


class Browser(Base):
    """A browser that signed in to an account before (OWASP's device cookie), and whether it
    passed the second factor recently enough to skip it."""

    __tablename__ = "account_browsers"
    __table_args__ = (UniqueConstraint("token_hash", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_sign_in_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    second_factor_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class SecurityEvent(Base):
    """Append-only (a trigger refuses UPDATE and DELETE): NEN 7513 / ASVS 16.3."""

    __tablename__ = "account_security_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    organisation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(60))
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")


class RateLimitCounter(Base):
    """A fixed-window counter of the `limits` library, for portals without Redis: every process
    against the same database shares it. The key is stored as a digest (it may hold an address)."""

    __tablename__ = "account_rate_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    #: Seconds since the epoch, as the `limits` library counts.
    expires_at: Mapped[float] = mapped_column(Float)


class ApiToken(Base):
    """A machine client's bearer token (`/api/v1`): scoped to one user and the organisation the
    user belonged to when it was made. The secret part carries 256 random bits, so its SHA-256
    digest is stored (a fast digest of that much randomness cannot be searched); `public_id` is
    the part shown for recognition and used to find the row."""

    __tablename__ = "account_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(24), unique=True)
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey(Organisation.id), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    #: Updated at most once a minute, so a busy client does not write on every request.
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
