"""A storage for the `limits` library in the portal's own database (SQLite or PostgreSQL).

Every portal process against the same database shares the counters, so a production portal
needs no Redis for its rate limits. Fixed windows: an atomic upsert per attempt.
"""

from __future__ import annotations

import hashlib
import time

from limits.storage import Storage
from sqlalchemy import Engine, Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from zorgbroker.accounts.models import RateLimitCounter

TABLE: Table = RateLimitCounter.__table__  # type: ignore[assignment]


def _key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class DatabaseStorage(Storage):
    STORAGE_SCHEME = ["zorgbroker-database"]  # noqa: RUF012 (declared so by the base class)

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        insert = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(
            TABLE
        ).values(key=_key(key), count=amount, expires_at=now + expiry)
        expired = TABLE.c.expires_at <= now
        upsert = insert.on_conflict_do_update(
            index_elements=[TABLE.c.key],
            set_={
                "count": case((expired, amount), else_=TABLE.c.count + amount),
                "expires_at": case((expired, now + expiry), else_=TABLE.c.expires_at),
            },
        ).returning(TABLE.c.count)
        with self.engine.begin() as conn:
            return int(conn.execute(upsert).scalar_one())

    def _row(self, key: str) -> tuple[int, float] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(TABLE.c.count, TABLE.c.expires_at).where(TABLE.c.key == _key(key))
            ).first()
        if row is None or row[1] <= time.time():
            return None
        return int(row[0]), float(row[1])

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            return int(conn.execute(delete(TABLE)).rowcount)

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(TABLE).where(TABLE.c.key == _key(key)))
