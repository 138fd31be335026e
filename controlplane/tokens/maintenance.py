"""Background upkeep for the warm-path caches: poll their epochs, and run small periodic chores
(flushing last-used marks, dropping spent rate-limit windows).

One daemon thread per process. It never touches the request path; if it stalls, the caches stop
answering (see `EpochCache`), which is slower but never wrong.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from controlplane.db import transaction
from controlplane.kit.clock import utcnow
from controlplane.kit.epoch_cache import EpochCache
from controlplane.tokens import repository
from controlplane.tokens.usage import UsageTracker

log = logging.getLogger(__name__)
_USAGE_FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class Chore:
    every_seconds: float
    run: Callable[[], None]


class TokenMaintenance:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        caches: Mapping[str, EpochCache[Any, Any]],
        usage: UsageTracker,
        poll_seconds: float,
        chores: Sequence[Chore] = (),
    ) -> None:
        self._session_factory = session_factory
        self._caches = caches
        self._usage = usage
        self._poll_seconds = poll_seconds
        self._chores = (Chore(_USAGE_FLUSH_SECONDS, self.flush_usage), *chores)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_epoch(self) -> None:
        # One clock for all caches: they share `time.monotonic` unless a test swaps it.
        started = {name: cache.now() for name, cache in self._caches.items()}
        with transaction(self._session_factory, read_only=True) as session:
            epochs = repository.read_epochs(session.connection())
        for name, cache in self._caches.items():
            cache.observe_epoch(epochs.get(name, 0), started[name])

    def flush_usage(self) -> None:
        pending = self._usage.drain(utcnow())
        if pending:
            with transaction(self._session_factory) as session:
                repository.record_last_used(session.connection(), pending)

    def _run(self) -> None:
        due = [time.monotonic() + chore.every_seconds for chore in self._chores]
        while not self._stop.wait(self._poll_seconds):
            try:
                self.poll_epoch()
            except SQLAlchemyError:
                # The caches go cold by themselves once polls stop succeeding; keep trying.
                log.warning("cache maintenance could not reach the database")
                continue
            for index, chore in enumerate(self._chores):
                if time.monotonic() < due[index]:
                    continue
                due[index] = time.monotonic() + chore.every_seconds
                try:
                    chore.run()
                except SQLAlchemyError:
                    log.warning("maintenance chore %s failed; retrying later", chore.run.__name__)

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
