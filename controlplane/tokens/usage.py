"""`last_used_at` / last IP, written at most once per interval per token, off the request path."""

import threading
from datetime import datetime, timedelta


class UsageTracker:
    def __init__(self, interval_seconds: int) -> None:
        self._interval = timedelta(seconds=interval_seconds)
        self._last_noted: dict[str, datetime] = {}
        self._pending: dict[str, tuple[datetime, str | None]] = {}
        self._lock = threading.Lock()

    def touch(self, token_id: str, client_ip: str | None, now: datetime) -> None:
        last = self._last_noted.get(token_id)
        if last is not None and now - last < self._interval:
            return
        with self._lock:
            self._last_noted[token_id] = now
            self._pending[token_id] = (now, client_ip)

    def drain(self, now: datetime) -> dict[str, tuple[datetime, str | None]]:
        with self._lock:
            pending, self._pending = self._pending, {}
            # Forget tokens idle past the interval so the map cannot grow without bound.
            self._last_noted = {
                token_id: seen
                for token_id, seen in self._last_noted.items()
                if now - seen < self._interval
            }
        return pending
