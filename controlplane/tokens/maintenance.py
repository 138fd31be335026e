"""Background upkeep for the token cache: poll the revocation epoch, flush last-used marks.

One daemon thread per process. It never touches the request path; if it stalls, the cache stops
answering (see `TokenCache`), which is slower but never wrong.
"""

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from controlplane.db import transaction
from controlplane.kit.clock import utcnow
from controlplane.tokens import repository
from controlplane.tokens.cache import TokenCache
from controlplane.tokens.usage import UsageTracker

log = logging.getLogger(__name__)
_USAGE_FLUSH_SECONDS = 5.0


class TokenMaintenance:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        cache: TokenCache,
        usage: UsageTracker,
        poll_seconds: float,
    ) -> None:
        self._session_factory = session_factory
        self._cache = cache
        self._usage = usage
        self._poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_epoch(self) -> None:
        started = self._cache.now()
        with transaction(self._session_factory, read_only=True) as session:
            epoch = repository.read_epoch(session.connection())
        self._cache.observe_epoch(epoch, started)

    def flush_usage(self) -> None:
        pending = self._usage.drain(utcnow())
        if pending:
            with transaction(self._session_factory) as session:
                repository.record_last_used(session.connection(), pending)

    def _run(self) -> None:
        next_flush = time.monotonic() + _USAGE_FLUSH_SECONDS
        while not self._stop.wait(self._poll_seconds):
            try:
                self.poll_epoch()
                if time.monotonic() >= next_flush:
                    next_flush = time.monotonic() + _USAGE_FLUSH_SECONDS
                    self.flush_usage()
            except SQLAlchemyError:
                # The cache goes cold by itself once polls stop succeeding; keep trying.
                log.warning("token cache maintenance could not reach the database")

    def start(self) -> None:
        self.poll_epoch()
        self._thread = threading.Thread(target=self._run, name="token-maintenance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.flush_usage()
        except SQLAlchemyError:
            log.warning("could not flush last-used marks at shutdown")
