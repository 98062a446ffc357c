"""Passkeys (WebAuthn) through py_webauthn: added as a further factor, used as a second step.

The challenge waits in the server-side session row, so the answer must come from the browser
session that asked, once (it is cleared when checked).
"""

from __future__ import annotations

import json

import webauthn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from zorgbroker.accounts.interfaces import Clock, InvalidCode, RequestContext
from zorgbroker.accounts.models import Passkey, User, WebSession
from zorgbroker.accounts.security_log import SecurityLog


class PasskeyService:
    def __init__(
        self,
        db: sessionmaker[Session],
        clock: Clock,
        security_log: SecurityLog,
        *,
        rp_id: str,
        origin: str,
        rp_name: str = "zorgbroker",
    ) -> None:
        self.db = db
        self.clock = clock
        self.security_log = security_log
        self.rp_id = rp_id
        self.origin = origin
        self.rp_name = rp_name

    def _descriptors(self, s: Session, user_id: int) -> list[PublicKeyCredentialDescriptor]:
        ids = s.scalars(select(Passkey.credential_id).where(Passkey.user_id == user_id))
        return [PublicKeyCredentialDescriptor(id=i) for i in ids]

    def registration_options(self, s: Session, row: WebSession, user: User) -> str:
        options = webauthn.generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_name=user.email,
            user_id=f"zorgbroker-user-{user.id}".encode(),
            user_display_name=user.name,
            exclude_credentials=self._descriptors(s, user.id),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
        )
        row.challenge = options.challenge
        return webauthn.options_to_json(options)

    def register(
        self,
        s: Session,
        row: WebSession,
        user: User,
        credential: str,
        name: str,
        context: RequestContext,
    ) -> None:
        challenge, row.challenge = row.challenge, None
        if challenge is None:
            raise InvalidCode("Begin opnieuw met het toevoegen van de passkey.")
        try:
            verified = webauthn.verify_registration_response(
                credential=json.loads(credential),
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
            )
        except (InvalidRegistrationResponse, ValueError, KeyError) as wrong:
            raise InvalidCode("De passkey kon niet worden toegevoegd.") from wrong
        s.add(
            Passkey(
                user_id=user.id,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                name=(name.strip() or "passkey")[:100],
                created_at=self.clock.now(),
            )
        )
        self.security_log.record(s, "passkey_added", user_id=user.id, context=context)

    def authentication_options(self, s: Session, row: WebSession, user_id: int) -> str:
        options = webauthn.generate_authentication_options(
            rp_id=self.rp_id,
            allow_credentials=self._descriptors(s, user_id),
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        row.challenge = options.challenge
        return webauthn.options_to_json(options)

    def check(self, s: Session, row: WebSession, user_id: int, credential: str) -> None:
        """Accept the passkey's answer to this session's challenge (raises InvalidCode)."""
        challenge, row.challenge = row.challenge, None
        wrong = InvalidCode(
            "De passkey is niet herkend. Probeer het opnieuw of kies een andere manier."
        )
        if challenge is None:
            raise wrong
        try:
            answer = json.loads(credential)
            raw_id = webauthn.base64url_to_bytes(answer["rawId"])
        except (ValueError, KeyError, TypeError) as bad:
            raise wrong from bad
        passkey = s.scalar(
            select(Passkey).where(Passkey.credential_id == raw_id, Passkey.user_id == user_id)
        )
        if passkey is None:
            raise wrong
        try:
            verified = webauthn.verify_authentication_response(
                credential=answer,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
            )
        except (InvalidAuthenticationResponse, ValueError, KeyError) as bad:
            raise wrong from bad
        passkey.sign_count = verified.new_sign_count
        passkey.last_used_at = self.clock.now()
