"""The caches behind the warm path: verified tokens, proxy policies and provider credentials.

Each answers without a database round trip, and each is guarded the same way, because "revoked
keys keep working from caches" is the classic gateway bug:
- A commit that changes what is cached clears this process's cache before the response returns.
- Other processes learn through the cache's `cache_epochs` row, polled every ~250 ms; any
  change clears.
- The cache only answers while a poll has succeeded within the staleness bound (< 2 s): if the
  poller stalls or the database is unreachable, every lookup goes cold instead of trusting
  stale entries.
- A lookup that started before an invalidation may not insert its (possibly stale) result.
"""

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class EpochCache(Generic[K, V]):
    def __init__(
        self,
        max_size: int,
        staleness_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_size = max_size
        self._staleness = staleness_seconds
        self._monotonic = monotonic
        self._entries: dict[K, V] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._epoch: int | None = None
        self._fresh_until = 0.0

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def size(self) -> int:
        return len(self._entries)

    def get(self, key: K) -> V | None:
        if self._monotonic() > self._fresh_until:
            return None
        return self._entries.get(key)

    def put(self, key: K, value: V, generation: int) -> None:
        with self._lock:
            if generation != self._generation or self._max_size == 0:
                return
            if len(self._entries) >= self._max_size:
                # Wholesale eviction keeps this O(1) and lock-light; refills are one query each.
                self._entries.clear()
            self._entries[key] = value

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def now(self) -> float:
        return self._monotonic()

    def observe_epoch(self, epoch: int, read_started: float | None = None) -> None:
        """Called by the poller after every successful read of the shared epoch.

        Freshness counts from when the read *started*: a revocation committed during a slow
        read is then still bounded by the staleness limit.
        """
        started = self._monotonic() if read_started is None else read_started
        if epoch != self._epoch:
            self.invalidate()
            self._epoch = epoch
        self._fresh_until = started + self._staleness
