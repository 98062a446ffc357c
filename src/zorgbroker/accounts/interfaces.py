"""What the accounts services are handed, as protocols, and the errors they raise.

Each collaborator has a production implementation and a stand-in for tests (`standins`): a clock
that only moves when told, a mailer that keeps what it sent, a breached-password checker that
knows a few passwords, a rate limiter on memory storage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current moment, timezone-aware UTC."""
        ...


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None:
        """Hand a plain-text mail over for delivery."""
        ...


class BreachedPasswordChecker(Protocol):
    def is_breached(self, password: str) -> bool:
        """Whether the password is common or known from a breach."""
        ...


class RateLimiter(Protocol):
    def hit(self, kind: str, key: str) -> bool:
        """Count one attempt of `kind` by `key`; False once the kind's limit is reached."""
        ...

    def reset(self, kind: str, key: str) -> None: ...


class SecretBox(Protocol):
    """Encrypts secrets the server must read back (TOTP secrets); the key stays with it."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, ciphertext: bytes) -> bytes: ...


@dataclass(frozen=True)
class RequestContext:
    """Who asks: the browser's address, its user agent and its device cookie (if any)."""

    address: str = ""
    user_agent: str = ""
    browser_token: str | None = None


class AccountError(Exception):
    """A refusal with a Dutch message that may be shown to the user as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignInRefused(AccountError):
    """Wrong e-mail address or password, a locked account, too many attempts: one answer."""


class WeakPassword(AccountError):
    def __init__(self, problems: list[str], strength: int, minimum: int) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems
        self.strength = strength
        self.minimum = minimum


class InvalidCode(AccountError):
    """A second-factor code, recovery code, activation code or login token that does not fit."""


class ClockProblem(InvalidCode):
    """A TOTP code from more than one step away: the phone's clock is off."""


class InvalidLink(AccountError):
    """An invitation or login link that is unknown, used or expired."""


class NotAllowed(AccountError):
    """The signed-in user may not do this (role, organisation, or re-authentication due)."""
