"""Periodic upkeep of the accounts tables (for the job runner or cron)."""

from __future__ import annotations

from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.sessions import purge


def purge_expired(services: AccountServices) -> int:
    """Remove ended and expired sessions and spent tokens; returns the sessions removed."""
    return purge(services.db, services.sessions.clock)
