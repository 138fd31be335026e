"""Open proxied requests per token, for `max_streams_per_token`.

Counted per process, in the event loop's thread (so no lock): a stream is a live connection to
this process, and a cap per process is what protects it. With several processes behind a load
balancer, a token can hold up to the cap on each.
"""

from collections import Counter


class StreamGate:
    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def acquire(self, token_id: str, limit: int | None) -> bool:
        if limit is not None and self._open[token_id] >= limit:
            return False
        self._open[token_id] += 1
        return True

    def release(self, token_id: str) -> None:
        self._open[token_id] -= 1
        if self._open[token_id] <= 0:
            del self._open[token_id]

    def open_for(self, token_id: str) -> int:
        return self._open[token_id]
