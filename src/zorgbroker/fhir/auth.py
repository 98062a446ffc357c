"""Who is asking: a bearer token maps to a patient, a scope and a client.

The authorisation server (`zorgbroker.fhir.oauth`) issues the tokens; its
`StoredTokenVerifier` is the server's verifier. `StaticTokenVerifier` serves tests that must
use the tokens a TestScript names.
"""

from __future__ import annotations

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


class StaticTokenVerifier:
    """A fixed table of tokens, for tests that must use the tokens a TestScript names."""

    def __init__(self, grants: dict[str, Grant]) -> None:
        self._grants = dict(grants)

    def verify(self, token: str) -> Grant | None:
        return self._grants.get(token)
