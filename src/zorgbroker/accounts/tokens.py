"""Random identifiers and their stored digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Unambiguous characters for codes a person types (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_token() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


def same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def typed_code(groups: int = 2, size: int = 5) -> str:
    """A code read from a mail or paper and typed: e.g. ``K7Q2M-XW9PD``."""
    return "-".join(
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(size)) for _ in range(groups)
    )


def normalise_code(value: str) -> str:
    return "".join(c for c in value.upper() if c.isalnum())


def digit_code(length: int = 8) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))
