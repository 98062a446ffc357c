"""The `limits` library on the portal's database: processes share the counters."""

from __future__ import annotations

from sqlalchemy import Engine, select, text

from zorgbroker.accounts.collaborators import LimitsRateLimiter
from zorgbroker.accounts.models import RateLimitCounter
from zorgbroker.accounts.rate_limit_storage import DatabaseStorage

RULES = {"password-address": "3/minute"}


def test_two_processes_share_the_counters_in_the_database(engine: Engine) -> None:
    first = LimitsRateLimiter(DatabaseStorage(engine), RULES)
    second = LimitsRateLimiter(DatabaseStorage(engine), RULES)
    assert first.hit("password-address", "192.0.2.1")
    assert second.hit("password-address", "192.0.2.1")
    assert first.hit("password-address", "192.0.2.1")
    assert not second.hit("password-address", "192.0.2.1")
    assert second.hit("password-address", "192.0.2.2")
    first.reset("password-address", "192.0.2.1")
    assert second.hit("password-address", "192.0.2.1")


def test_the_key_is_stored_as_a_digest(engine: Engine) -> None:
    limiter = LimitsRateLimiter(DatabaseStorage(engine), {"password-account": "5/minute"})
    limiter.hit("password-account", "jan@ziekenhuis.example")
    with engine.connect() as conn:
        keys = conn.execute(select(RateLimitCounter.key)).scalars().all()
        dump = " ".join(str(r) for r in conn.execute(text("SELECT * FROM account_rate_limits")))
    assert len(keys) == 1 and "jan" not in dump
