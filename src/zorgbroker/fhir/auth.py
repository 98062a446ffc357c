"""Who is asking: a bearer token maps to a patient, a scope and a client.

The MedMij authorisation server (issue 17, on top of accounts) will issue the real tokens; until
then `SignedTokenVerifier` checks tokens that `mint` signs with a key the server holds.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Grant:
    patient_id: str
    scope: str
    client_id: str


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Grant | None:
        """The grant behind a valid, unexpired token; None for anything else."""
        ...


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignedTokenVerifier:
    """Tokens `<claims>.<HMAC-SHA256>`; the claims name patient, scope, client and expiry."""

    def __init__(
        self, key: bytes, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    ) -> None:
        self._key = key
        self._clock = clock

    def mint(
        self, patient_id: str, scope: str, *, client_id: str = "demo", lifetime: dt.timedelta
    ) -> str:
        claims = {
            "p": patient_id,
            "s": scope,
            "c": client_id,
            "e": int((self._clock() + lifetime).timestamp()),
        }
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def verify(self, token: str) -> Grant | None:
        body, _, signature = token.partition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            claims = json.loads(_unb64(body))
            expires = int(claims["e"])
            grant = Grant(str(claims["p"]), str(claims["s"]), str(claims["c"]))
        except (ValueError, KeyError, TypeError):
            return None
        if self._clock().timestamp() >= expires:
            return None
        return grant


class StaticTokenVerifier:
    """A fixed table of tokens, for tests that must use the tokens a TestScript names."""

    def __init__(self, grants: dict[str, Grant]) -> None:
        self._grants = dict(grants)

    def verify(self, token: str) -> Grant | None:
        return self._grants.get(token)
