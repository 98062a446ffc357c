"""Server-side sessions: the cookie holds a random identifier, the database its digest.

A session starts anonymous (so the sign-in form has a CSRF token), gets a new identifier when the
password passes and again when the second factor passes, ends after 30 minutes idle or 12 hours
in all, and ends at its next request when its user is disabled.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from zorgbroker.accounts.interfaces import Clock, RequestContext
from zorgbroker.accounts.models import (
    ActivationCode,
    Browser,
    Invitation,
    LoginToken,
    User,
    WebSession,
)
from zorgbroker.accounts.security_log import SecurityLog
from zorgbroker.accounts.tokens import digest, new_token


@dataclass(frozen=True)
class SessionLimits:
    idle: dt.timedelta = dt.timedelta(minutes=30)
    absolute: dt.timedelta = dt.timedelta(hours=12)
    #: A browser that passed the second factor needs none again within this time.
    trusted_browser: dt.timedelta = dt.timedelta(hours=4)
    #: Sensitive changes need the password or a factor within this time.
    reauthentication: dt.timedelta = dt.timedelta(minutes=15)
    #: Between the password and the second factor.
    pending_second_factor: dt.timedelta = dt.timedelta(minutes=10)
    login_token: dt.timedelta = dt.timedelta(minutes=10)
    invitation: dt.timedelta = dt.timedelta(days=7)


@dataclass(frozen=True)
class SessionInfo:
    id: int
    user_id: int | None
    #: Password passed, second factor (or its set-up) still due.
    pending: bool
    signed_in: bool
    csrf_secret: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    reauthenticated_at: dt.datetime | None
    user_agent: str
    address: str


@dataclass(frozen=True)
class BrowserInfo:
    id: int
    user_agent: str
    last_sign_in_at: dt.datetime
    second_factor_until: dt.datetime | None


def _info(row: WebSession) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        user_id=row.user_id,
        pending=row.password_at is not None and row.signed_in_at is None,
        signed_in=row.signed_in_at is not None,
        csrf_secret=row.csrf_secret,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        reauthenticated_at=row.reauthenticated_at,
        user_agent=row.user_agent,
        address=row.address,
    )


class SessionService:
    def __init__(
        self,
        db: sessionmaker[Session],
        clock: Clock,
        security_log: SecurityLog,
        limits: SessionLimits = SessionLimits(),
    ) -> None:
        self.db = db
        self.clock = clock
        self.security_log = security_log
        self.limits = limits

    # -- creating ---------------------------------------------------------------------------

    def _new_row(self, s: Session, context: RequestContext) -> tuple[str, WebSession]:
        token = new_token()
        now = self.clock.now()
        row = WebSession(
            id_hash=digest(token),
            csrf_secret=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            user_agent=context.user_agent[:300],
            address=context.address[:64],
        )
        s.add(row)
        s.flush()
        return token, row

    def start(self, context: RequestContext) -> tuple[str, SessionInfo]:
        """An anonymous session: it carries the CSRF token of the sign-in form."""
        with self.db.begin() as s:
            token, row = self._new_row(s, context)
            return token, _info(row)

    def rotate(
        self, s: Session, old: WebSession | None, user: User, context: RequestContext
    ) -> tuple[str, WebSession]:
        """A new identifier for a session whose privilege changes (password or factor passed):
        a fixated or stolen earlier identifier is worth nothing afterwards."""
        token, row = self._new_row(s, context)
        row.user_id = user.id
        if old is not None:
            row.password_at = old.password_at
            row.signed_in_at = old.signed_in_at
            row.reauthenticated_at = old.reauthenticated_at
            old.ended_at = self.clock.now()
            old.end_reason = "rotated"
        return token, row

    # -- reading ----------------------------------------------------------------------------

    def row_for(self, s: Session, token: str | None) -> WebSession | None:
        """The live session for this cookie value, or None (ending it if it expired)."""
        if not token:
            return None
        row = s.scalar(select(WebSession).where(WebSession.id_hash == digest(token)))
        if row is None or row.ended_at is not None:
            return None
        now = self.clock.now()
        reason = None
        if now - row.last_seen_at > self.limits.idle:
            reason = "idle"
        elif now - row.created_at > self.limits.absolute:
            reason = "absolute"
        elif (
            row.signed_in_at is None
            and row.password_at is not None
            and (now - row.password_at > self.limits.pending_second_factor)
        ):
            reason = "pending"
        elif row.user_id is not None:
            user = s.get(User, row.user_id)
            if user is None or not user.is_active:
                reason = "disabled"
        if reason is not None:
            row.ended_at = now
            row.end_reason = reason
            if row.user_id is not None and reason != "pending":
                self.security_log.record(
                    s, "session_ended", user_id=row.user_id, detail=f"reden: {reason}"
                )
            return None
        return row

    def load(self, token: str | None, *, touch: bool = True) -> SessionInfo | None:
        with self.db.begin() as s:
            row = self.row_for(s, token)
            if row is None:
                return None
            if touch:
                row.last_seen_at = self.clock.now()
            return _info(row)

    def needs_reauthentication(self, info: SessionInfo) -> bool:
        moment = info.reauthenticated_at
        return moment is None or self.clock.now() - moment > self.limits.reauthentication

    def active(self, user_id: int) -> list[SessionInfo]:
        """The user's signed-in sessions that have not expired, newest first."""
        now = self.clock.now()
        with self.db() as s:
            rows = s.scalars(
                select(WebSession)
                .where(
                    WebSession.user_id == user_id,
                    WebSession.ended_at.is_(None),
                    WebSession.signed_in_at.is_not(None),
                )
                .order_by(WebSession.last_seen_at.desc())
            ).all()
            return [
                _info(r)
                for r in rows
                if now - r.last_seen_at <= self.limits.idle
                and now - r.created_at <= self.limits.absolute
            ]

    def trusted_browsers(self, user_id: int) -> list[BrowserInfo]:
        now = self.clock.now()
        with self.db() as s:
            rows = s.scalars(
                select(Browser).where(
                    Browser.user_id == user_id,
                    Browser.revoked_at.is_(None),
                    Browser.second_factor_until > now,
                )
            ).all()
            return [
                BrowserInfo(b.id, b.user_agent, b.last_sign_in_at, b.second_factor_until)
                for b in rows
            ]

    # -- ending -----------------------------------------------------------------------------

    def end(self, token: str | None, context: RequestContext, reason: str = "signed_out") -> None:
        with self.db.begin() as s:
            row = self.row_for(s, token)
            if row is not None:
                row.ended_at = self.clock.now()
                row.end_reason = reason
                if row.user_id is not None:
                    self.security_log.record(
                        s, "session_ended", user_id=row.user_id, context=context,
                        detail=f"reden: {reason}",
                    )  # fmt: skip

    def end_one(self, user_id: int, session_id: int, context: RequestContext) -> bool:
        """End one of the user's own sessions ("afmelden" in Mijn sessies)."""
        with self.db.begin() as s:
            row = s.get(WebSession, session_id)
            if row is None or row.user_id != user_id or row.ended_at is not None:
                return False
            row.ended_at = self.clock.now()
            row.end_reason = "signed_out_elsewhere"
            self.security_log.record(
                s, "session_ended", user_id=user_id, context=context,
                detail="reden: afgemeld via Mijn sessies",
            )  # fmt: skip
            return True

    def end_all(
        self,
        s: Session,
        user_id: int,
        reason: str,
        *,
        keep: int | None = None,
        context: RequestContext | None = None,
    ) -> int:
        """End every session of the user but `keep`; forget its trusted browsers too when no
        session is kept (a disabled account or a reset password)."""
        now = self.clock.now()
        query = update(WebSession).where(
            WebSession.user_id == user_id, WebSession.ended_at.is_(None)
        )
        if keep is not None:
            query = query.where(WebSession.id != keep)
        ended = s.execute(
            query.values(ended_at=now, end_reason=reason).execution_options(
                synchronize_session=False
            )
        ).rowcount  # type: ignore[attr-defined]
        if keep is None:
            s.execute(
                update(Browser)
                .where(Browser.user_id == user_id, Browser.revoked_at.is_(None))
                .values(second_factor_until=None)
                .execution_options(synchronize_session=False)
            )
        self.security_log.record(
            s, "sessions_ended", user_id=user_id, context=context,
            detail=f"reden: {reason}; {ended} sessie(s)",
        )  # fmt: skip
        return int(ended)

    def end_others(self, user_id: int, keep: int, context: RequestContext) -> int:
        with self.db.begin() as s:
            return self.end_all(s, user_id, "signed_out_elsewhere", keep=keep, context=context)

    def forget_browser(self, user_id: int, browser_id: int, context: RequestContext) -> None:
        with self.db.begin() as s:
            row = s.get(Browser, browser_id)
            if row is not None and row.user_id == user_id:
                row.second_factor_until = None
                self.security_log.record(s, "browser_forgotten", user_id=user_id, context=context)


def purge(
    db: sessionmaker[Session], clock: Clock, keep: dt.timedelta = dt.timedelta(days=1)
) -> int:
    """Delete sessions that ended or expired more than `keep` ago, and login tokens, activation
    codes and invitations past their use; the security log keeps what happened. For a periodic
    job (`tasks.purge_expired`)."""
    cutoff = clock.now() - keep
    limits = SessionLimits()
    with db.begin() as s:
        removed = s.execute(
            delete(WebSession).where(
                or_(
                    WebSession.ended_at < cutoff,
                    WebSession.last_seen_at < cutoff - limits.idle,
                    WebSession.created_at < cutoff - limits.absolute,
                )
            )
        ).rowcount  # type: ignore[attr-defined]
        s.execute(delete(LoginToken).where(LoginToken.expires_at < cutoff))
        s.execute(delete(ActivationCode).where(ActivationCode.expires_at < cutoff))
        s.execute(delete(Invitation).where(Invitation.expires_at < cutoff))
        return int(removed)
