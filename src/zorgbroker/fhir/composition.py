"""The composition root of the FHIR server: collaborators built from Settings."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import Engine

from zorgbroker.fhir.auth import SignedTokenVerifier
from zorgbroker.fhir.routes import FhirService
from zorgbroker.fhir.schema import ensure_schema
from zorgbroker.registry.database import engine_for
from zorgbroker.settings import Settings

KEY_FILE = "fhir-token.key"


def fhir_engine(settings: Settings) -> Engine:
    """The platform's database (the registry's), with the FHIR tables brought up to date."""
    engine = engine_for(settings.registry_database_url)
    ensure_schema(engine)
    return engine


def token_key(home: Path) -> bytes:
    """The key that signs demo tokens, made on first use, readable by the owner only."""
    path = home / KEY_FILE
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key.hex())
    return key


def token_verifier(settings: Settings) -> SignedTokenVerifier:
    return SignedTokenVerifier(token_key(settings.home))


def fhir_service(settings: Settings, base_url: str | None = None) -> FhirService:
    return FhirService(fhir_engine(settings), token_verifier(settings), base_url=base_url)
