"""Token buckets per source organisation, for requests and for items."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    rate: float
    capacity: float
    level: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self, amount: float, now: float) -> float:
        """0 when taken, else seconds until it could be."""
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if amount <= self.level:
            self.level -= amount
            return 0.0
        return (amount - self.level) / self.rate


@dataclass(frozen=True)
class Limits:
    requests_per_second: float = 50.0
    request_burst: float = 200.0
    items_per_second: float = 2_000_000.0
    item_burst: float = 10_000_000.0
    #: Largest batch accepted in one request.
    max_batch: int = 250_000


class RateLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._buckets: dict[str, tuple[_Bucket, _Bucket]] = {}
        self._lock = threading.Lock()

    def check(self, org: str, items: int) -> float:
        """0 when the request may go ahead, else seconds the client should wait."""
        limits = self.limits
        with self._lock:
            buckets = self._buckets.get(org)
            if buckets is None:
                buckets = (
                    _Bucket(limits.requests_per_second, limits.request_burst, limits.request_burst),
                    _Bucket(limits.items_per_second, limits.item_burst, limits.item_burst),
                )
                self._buckets[org] = buckets
            requests, item_bucket = buckets
            now = time.monotonic()
            wait = requests.take(1, now)
            if wait:
                return wait
            wait = item_bucket.take(items, now)
            if wait:
                requests.level += 1  # not served, so it does not count
            return wait
