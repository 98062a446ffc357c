"""The production collaborators of the accounts services; a composition root builds them.

- `SystemClock`: the real time.
- `FernetSecretBox`: encrypts TOTP secrets at rest with a key the caller supplies (from settings
  or a secrets manager), never one stored beside the data.
- `LimitsRateLimiter`: the `limits` library's moving window, on a storage every portal process
  shares in production: ``redis://host:6379``, or `rate_limit_storage.DatabaseStorage` on the
  portal's own database; ``memory://`` for tests and one process.
  The policy's own lock (attempts, lock time) is kept in the database, which every process shares.
- `TransportMailer`: mail through `zorgbroker.mail.transport` (SMTP, or the local mailbox).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from cryptography.fernet import Fernet
from limits import RateLimitItem, parse
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter, RateLimiter

from zorgbroker.settings import Settings


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FernetSecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @staticmethod
    def generate_key() -> bytes:
        return Fernet.generate_key()

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        return self._fernet.decrypt(ciphertext)


#: Attempts per kind: generous per address (a hospital signs in from one NAT address), tighter
#: per account; the policy's lock applies on top of these.
DEFAULT_RULES: Mapping[str, str] = {
    "password-address": "60/minute;600/hour",
    "password-account": "10/minute;100/hour",
    "code-account": "10/minute;50/hour",
    "mail-account": "5/10minutes",
    # Requests per API token: enough for a busy client polling status, not for a flood.
    "api-token": "600/minute",
}


class LimitsRateLimiter:
    def __init__(
        self, storage: Storage | str = "memory://", rules: Mapping[str, str] = DEFAULT_RULES
    ) -> None:
        self._storage = storage_from_string(storage) if isinstance(storage, str) else storage
        # A moving window where the storage keeps one (memory, Redis), else fixed windows (the
        # database storage).
        self._limiter: RateLimiter = (
            MovingWindowRateLimiter(self._storage)
            if isinstance(self._storage, MovingWindowSupport)
            else FixedWindowRateLimiter(self._storage)
        )
        self._rules: dict[str, list[RateLimitItem]] = {
            kind: [parse(part) for part in rule.split(";")] for kind, rule in rules.items()
        }

    def hit(self, kind: str, key: str) -> bool:
        # Every window counts the attempt, so a burst also fills the longer ones.
        results = [self._limiter.hit(item, kind, key) for item in self._rules[kind]]
        return all(results)

    def reset(self, kind: str, key: str) -> None:
        for item in self._rules[kind]:
            self._limiter.clear(item, kind, key)


class TransportMailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, to: str, subject: str, body: str) -> None:
        from zorgbroker.mail.transport import deliver

        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.settings.mail_from
        message["To"] = to
        message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
        message["Message-ID"] = make_msgid(domain="zorgbroker")
        message.set_content(body)
        deliver(message, self.settings)
