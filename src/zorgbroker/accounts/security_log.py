"""The append-only security log: every sign-in, failure, factor change and session end.

Events carry what happened, to whom, when, from which address and browser; never a password,
code, token or secret (callers pass ids and kinds only; a test scans every line).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from zorgbroker.accounts.interfaces import Clock, RequestContext
from zorgbroker.accounts.models import SecurityEvent
from zorgbroker.logging import get_logger

log = get_logger("zorgbroker.accounts")

#: The Dutch label of each kind, for the log page.
EVENT_LABELS = {
    "sign_in": "aangemeld",
    "sign_in_failed": "aanmelden mislukt",
    "account_locked": "account tijdelijk geblokkeerd voor onbekende browsers",
    "browser_locked": "browser tijdelijk geblokkeerd",
    "password_ok": "wachtwoord goed, tweede stap gevraagd",
    "second_factor_failed": "tweede stap mislukt",
    "totp_clock_problem": "code van een telefoon met afwijkende klok",
    "recovery_code_used": "herstelcode gebruikt",
    "login_token_sent": "inlogcode gemaild",
    "login_token_refused": "inlogcode geweigerd",
    "activation_code_sent": "activeringscode gemaild",
    "totp_added": "authenticator-app ingesteld",
    "totp_removed": "authenticator-app verwijderd",
    "passkey_added": "passkey toegevoegd",
    "passkey_removed": "passkey verwijderd",
    "recovery_codes_created": "herstelcodes aangemaakt",
    "password_set": "wachtwoord ingesteld",
    "password_changed": "wachtwoord gewijzigd",
    "password_rehashed": "wachtwoordhash vernieuwd",
    "password_reset_requested": "wachtwoordherstel aangevraagd",
    "reauthenticated": "opnieuw bevestigd",
    "email_change_requested": "wijziging e-mailadres aangevraagd",
    "email_changed": "e-mailadres gewijzigd",
    "session_ended": "sessie beëindigd",
    "sessions_ended": "alle sessies beëindigd",
    "browser_forgotten": "vertrouwde browser vergeten",
    "user_invited": "gebruiker uitgenodigd",
    "user_disabled": "gebruiker uitgeschakeld",
    "user_enabled": "gebruiker ingeschakeld",
    "roles_changed": "rollen gewijzigd",
    "policy_changed": "wachtwoordbeleid gewijzigd",
    "api_token_created": "API-sleutel gemaakt",
    "api_token_revoked": "API-sleutel ingetrokken",
}


@dataclass(frozen=True)
class EventView:
    at: dt.datetime
    kind: str
    label: str
    address: str
    user_agent: str
    detail: str


class SecurityLog:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def record(
        self,
        s: Session,
        kind: str,
        *,
        user_id: int | None = None,
        organisation_id: int | None = None,
        context: RequestContext | None = None,
        detail: str = "",
    ) -> None:
        assert kind in EVENT_LABELS, kind
        context = context or RequestContext()
        s.add(
            SecurityEvent(
                at=self.clock.now(),
                user_id=user_id,
                organisation_id=organisation_id,
                kind=kind,
                address=context.address[:64],
                user_agent=context.user_agent[:300],
                detail=detail[:500],
            )
        )
        log.info(
            "accounts.event", kind=kind, user_id=user_id, organisation_id=organisation_id,
            detail=detail,
        )  # fmt: skip

    def for_user(
        self, db: sessionmaker[Session], user_id: int, limit: int = 200
    ) -> list[EventView]:
        with db() as s:
            rows = s.scalars(
                select(SecurityEvent)
                .where(SecurityEvent.user_id == user_id)
                .order_by(SecurityEvent.id.desc())
                .limit(limit)
            ).all()
            return [
                EventView(e.at, e.kind, EVENT_LABELS.get(e.kind, e.kind), e.address,
                          e.user_agent, e.detail)
                for e in rows
            ]  # fmt: skip
