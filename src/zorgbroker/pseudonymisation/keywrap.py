"""A project's source key wrapped under a source user's TTP password (the browser's copy).

The TTP wraps K_source[R] for one enrolled user:

    kek     = PBKDF2-HMAC-SHA256(NFC(password), salt, iterations, 32 bytes)
    wrapped = AES-256-GCM(kek, iv, K_source, ad = "zorgbroker-bronsleutel|1|" R "|" AGB "|" e-mail)

The browser reverses it with WebCrypto alone (`portal/static/stage1/keywrap.js`), so no library is
shipped for it: PBKDF2 and AES-GCM are native there. The associated data binds the blob to one
registry, organisation and user, so a relaying registry cannot hand one user's blob to another
as theirs. The published vectors (`vectors/keywrap-vectors.json`) are checked here and in the
browser. Everything in this module is pure: no files, no clock.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from zorgbroker.pseudonymisation.method import check_registry_name, fingerprint

FORMAT = "zorgbroker-bronsleutel"
FORMAT_VERSION = 1
KDF = "PBKDF2-HMAC-SHA256"
CIPHER = "AES-256-GCM"
#: What a new wrapping uses. OWASP's 2023 figure for PBKDF2-HMAC-SHA256 is 600,000; this is
#: higher because the blob is exposed to offline guessing by whoever relays it, and the browser
#: still unwraps it in well under a second (measured in docs/benchmarks.md).
ITERATIONS = 1_000_000
#: Fewer iterations than this are refused when unwrapping: a blob that asks for less was not
#: made by this TTP (the vectors use this figure to keep the tests quick).
MIN_ITERATIONS = 100_000
SALT_BYTES = 16
IV_BYTES = 12
KEY_BYTES = 32

WRONG_PASSWORD = "Het TTP-wachtwoord klopt niet."


class WrongPassword(Exception):
    """The password does not open this blob (or the blob was altered or moved to another user)."""

    def __init__(self) -> None:
        super().__init__(WRONG_PASSWORD)


class NotAWrappedKey(ValueError):
    """The JSON is not a wrapped source key this module can open (Dutch message)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, what: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except ValueError:
        raise NotAWrappedKey(f"Het veld {what} van de sleutelomslag is geen base64.") from None


def normalised_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively; the AD uses the lower-case form."""
    return email.strip().lower()


def associated_data(registry: str, organisation: str, email: str) -> bytes:
    """What the wrapping is bound to. None of the parts can hold a '|' or a newline (a registry
    name, eight digits, an e-mail address), so the joined form is unambiguous."""
    check_registry_name(registry)
    parts = [FORMAT, str(FORMAT_VERSION), registry, organisation, normalised_email(email)]
    if any("|" in part or "\n" in part for part in parts):
        raise NotAWrappedKey("Een deel van de sleutelomslag bevat een '|' of regeleinde.")
    return "|".join(parts).encode("utf-8")


def password_bytes(password: str) -> bytes:
    # NFC: the same password typed on two keyboards (an é composed or not) gives the same key.
    return unicodedata.normalize("NFC", password).encode("utf-8")


def key_encryption_key(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password_bytes(password), salt, iterations, KEY_BYTES)


@dataclass(frozen=True)
class WrappedKey:
    registry: str
    organisation: str
    email: str
    salt: bytes
    iterations: int
    iv: bytes
    #: AES-GCM ciphertext of K_source followed by its 16-byte tag.
    wrapped: bytes
    #: Fingerprint of K_source (docs/pseudonymisation.md 1.5): lets the browser show which
    #: project key it unwrapped, and reveals nothing about it.
    key_fingerprint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kdf": KDF,
            "hash": "SHA-256",
            "iterations": self.iterations,
            "salt": _b64(self.salt),
            "cipher": CIPHER,
            "iv": _b64(self.iv),
            "wrapped": _b64(self.wrapped),
            "registry": self.registry,
            "organisation": self.organisation,
            "email": normalised_email(self.email),
            "key_fingerprint": self.key_fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WrappedKey:
        if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
            raise NotAWrappedKey("Dit is geen sleutelomslag van zorgbroker (versie 1).")
        if data.get("kdf") != KDF or data.get("cipher") != CIPHER:
            raise NotAWrappedKey("De sleutelomslag gebruikt een onbekende methode.")
        iterations = data.get("iterations")
        if not isinstance(iterations, int) or iterations < MIN_ITERATIONS:
            raise NotAWrappedKey(
                f"De sleutelomslag vraagt te weinig PBKDF2-rondes (minimaal {MIN_ITERATIONS})."
            )
        return cls(
            registry=str(data.get("registry", "")),
            organisation=str(data.get("organisation", "")),
            email=str(data.get("email", "")),
            salt=_unb64(data.get("salt"), "salt"),
            iterations=iterations,
            iv=_unb64(data.get("iv"), "iv"),
            wrapped=_unb64(data.get("wrapped"), "wrapped"),
            key_fingerprint=str(data.get("key_fingerprint", "")),
        )


def wrap_key(
    key: bytes,
    password: str,
    *,
    registry: str,
    organisation: str,
    email: str,
    iterations: int = ITERATIONS,
    salt: bytes | None = None,
    iv: bytes | None = None,
) -> WrappedKey:
    """Wrap `key` for one user. Salt and IV are random unless given (the published vectors)."""
    if len(key) != KEY_BYTES:
        raise ValueError("a source key has 32 bytes")
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"at least {MIN_ITERATIONS} iterations")
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    iv = iv if iv is not None else secrets.token_bytes(IV_BYTES)
    ad = associated_data(registry, organisation, email)
    kek = key_encryption_key(password, salt, iterations)
    wrapped = AESGCM(kek).encrypt(iv, key, ad)
    return WrappedKey(
        registry, organisation, normalised_email(email), salt, iterations, iv, wrapped,
        fingerprint(key),
    )  # fmt: skip


def unwrap_key(blob: WrappedKey, password: str) -> bytes:
    """K_source, or `WrongPassword` (a wrong password, or a blob altered or moved to another
    user: AES-GCM cannot tell these apart, and need not)."""
    ad = associated_data(blob.registry, blob.organisation, blob.email)
    kek = key_encryption_key(password, blob.salt, blob.iterations)
    try:
        return AESGCM(kek).decrypt(blob.iv, blob.wrapped, ad)
    except (InvalidTag, ValueError):
        raise WrongPassword() from None
