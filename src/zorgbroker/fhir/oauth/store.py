"""What the authorisation server keeps: which account is which patient, the clients' secrets,
authorization codes and access tokens. Codes, tokens and secrets are stored as SHA-256 digests
only, so the database never holds one that works."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from zorgbroker.fhir.auth import Grant
from zorgbroker.fhir.models import AccessToken, AuthorizationCode, OAuthClientSecret, PatientAccount
from zorgbroker.registry.database import write_transaction

Clock = Callable[[], dt.datetime]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite gives naive datetimes back; everything stored here is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class IssuedCode:
    pk: int
    client_id: str
    redirect_uri: str
    scope: str
    patient_id: str

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class CodeReplayed(Exception):
    """A code offered a second time: refused, and the tokens it gave are revoked."""


class OAuthStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    # --- patients ------------------------------------------------------------------------

    def link_patient(self, user_id: int, patient_id: str) -> None:
        """Make the accounts user `user_id` the patient `patient_id` (replacing a former link)."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                delete(PatientAccount).where(
                    (PatientAccount.user_id == user_id) | (PatientAccount.patient_id == patient_id)
                )
            )
            conn.execute(insert(PatientAccount).values(user_id=user_id, patient_id=patient_id))

    def patient_of(self, user_id: int) -> str | None:
        with self.engine.connect() as conn:
            found: str | None = conn.execute(
                select(PatientAccount.patient_id).where(PatientAccount.user_id == user_id)
            ).scalar_one_or_none()
        return found

    # --- clients -------------------------------------------------------------------------

    def new_client_secret(self, client_id: str) -> str:
        """A fresh secret for the client (the former one stops working); shown once."""
        secret = secrets.token_urlsafe(32)
        with write_transaction(self.engine) as conn:
            conn.execute(delete(OAuthClientSecret).where(OAuthClientSecret.client_id == client_id))
            conn.execute(
                insert(OAuthClientSecret).values(client_id=client_id, secret_hash=digest(secret))
            )
        return secret

    def client_secret_matches(self, client_id: str, secret: str) -> bool:
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(OAuthClientSecret.secret_hash).where(
                    OAuthClientSecret.client_id == client_id
                )
            ).scalar_one_or_none()
        return stored is not None and hmac.compare_digest(stored, digest(secret))

    # --- codes ---------------------------------------------------------------------------

    def save_code(
        self,
        code: str,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        patient_id: str,
        lifetime: dt.timedelta,
    ) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(AuthorizationCode).values(
                    code_hash=digest(code),
                    client_id=client_id,
                    redirect_uri=redirect_uri,
                    scope=scope,
                    patient_id=patient_id,
                    expires_at=self.clock() + lifetime,
                    used_at=None,
                )
            )

    def redeem_code(self, code: str, client_id: str) -> IssuedCode | None:
        """The code's grant, retiring it in the same transaction: a second redemption, however
        close, finds it used. None for an unknown, expired or other client's code; a used code
        raises `CodeReplayed` after revoking the tokens issued from it (RFC 6749 §4.1.2)."""
        now = self.clock()
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                select(AuthorizationCode.__table__).where(
                    AuthorizationCode.code_hash == digest(code),
                    AuthorizationCode.client_id == client_id,
                )
            ).one_or_none()
            if row is None:
                return None
            if row.used_at is not None:
                conn.execute(
                    update(AccessToken).where(AccessToken.code_pk == row.pk).values(revoked=True)
                )
                replayed = True
            else:
                replayed = False
                retired = conn.execute(
                    update(AuthorizationCode)
                    .where(AuthorizationCode.pk == row.pk, AuthorizationCode.used_at.is_(None))
                    .values(used_at=now)
                )
                if retired.rowcount != 1:  # another request redeemed it in between
                    return None
            issued = IssuedCode(row.pk, row.client_id, row.redirect_uri, row.scope, row.patient_id)
            expired = _aware(row.expires_at) <= now
        if replayed:
            raise CodeReplayed()
        return None if expired else issued

    def purge_expired(self, token_lifetime: dt.timedelta) -> int:
        """Remove expired tokens, and codes whose every token has expired too (a replay of such
        a code is still refused: it is then unknown). Returns how many rows went."""
        now = self.clock()
        with write_transaction(self.engine) as conn:
            tokens = conn.execute(delete(AccessToken).where(AccessToken.expires_at < now))
            codes = conn.execute(
                delete(AuthorizationCode).where(AuthorizationCode.expires_at < now - token_lifetime)
            )
        return int(tokens.rowcount) + int(codes.rowcount)

    # --- tokens --------------------------------------------------------------------------

    def issue_token(
        self, *, client_id: str, patient_id: str, scope: str, lifetime: dt.timedelta
    ) -> str:
        """A token without a code behind it (`zorgbroker fhir token`, for demos and tests)."""
        token = secrets.token_urlsafe(32)
        self.save_token(
            token, client_id=client_id, patient_id=patient_id, scope=scope, lifetime=lifetime
        )
        return token

    def save_token(
        self,
        token: str,
        *,
        client_id: str,
        patient_id: str,
        scope: str,
        lifetime: dt.timedelta,
        code_pk: int | None = None,
    ) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(AccessToken).values(
                    token_hash=digest(token),
                    code_pk=code_pk,
                    client_id=client_id,
                    patient_id=patient_id,
                    scope=scope,
                    expires_at=self.clock() + lifetime,
                    revoked=False,
                )
            )


class StoredTokenVerifier:
    """The FHIR routes' `TokenVerifier` over the stored tokens: unknown, expired and revoked
    tokens give None."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def verify(self, token: str) -> Grant | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    AccessToken.patient_id,
                    AccessToken.scope,
                    AccessToken.client_id,
                    AccessToken.expires_at,
                    AccessToken.revoked,
                ).where(AccessToken.token_hash == digest(token))
            ).one_or_none()
        if row is None or row.revoked or _aware(row.expires_at) <= self.clock():
            return None
        return Grant(row.patient_id, row.scope, row.client_id)
