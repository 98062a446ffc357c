"""Stand-ins for the services' collaborators: fast, deterministic, in memory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


class FrozenClock:
    """A clock that moves only when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.moment = start or dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.moment

    def advance(self, **delta: float) -> dt.datetime:
        self.moment += dt.timedelta(**delta)
        return self.moment


@dataclass(frozen=True)
class SentMail:
    to: str
    subject: str
    body: str


@dataclass
class MemoryMailer:
    """Keeps every mail; the demo mailbox page and tests read `sent`."""

    sent: list[SentMail] = field(default_factory=list)

    def send(self, to: str, subject: str, body: str) -> None:
        self.sent.append(SentMail(to, subject, body))

    def last_to(self, to: str) -> SentMail:
        return next(m for m in reversed(self.sent) if m.to == to)


@dataclass
class SetBreachedChecker:
    """Knows exactly the passwords it is given."""

    known: set[str] = field(default_factory=set)

    def is_breached(self, password: str) -> bool:
        return password in self.known


class NullBreachedChecker:
    def is_breached(self, password: str) -> bool:
        return False


class NullRateLimiter:
    """Never limits: for tests about something else."""

    def hit(self, kind: str, key: str) -> bool:
        return True

    def reset(self, kind: str, key: str) -> None:
        return None
