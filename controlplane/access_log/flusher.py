"""Moves spooled records into the database, off the request path, on two daemon threads.

- sync: `Spool.sync()` every 100 ms, so a power failure loses at most that much;
- flush: every `flush_seconds`, adopt the run directories of processes that are gone (their
  lock is free), drain them, then drain this process's own directory: read a batch, append it
  to the chain in one transaction, then checkpoint. A crash between the commit and the
  checkpoint replays the batch, and the entries already stored are skipped.

If the database is away the batch stays in memory and the spool keeps growing on disk; the
proxy keeps working as long as the spool can be written.
"""

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from controlplane.access_log import service
from controlplane.access_log.reader import RunReader
from controlplane.access_log.spool import Spool, lock_run, run_directories
from controlplane.db import transaction

log = logging.getLogger(__name__)
SYNC_SECONDS = 0.1
BATCH_SIZE = 500


class Flusher:
    def __init__(
        self,
        spool: Spool,
        session_factory: Callable[[], Session],
        *,
        flush_seconds: float = 1.0,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.spool = spool
        self._session_factory = session_factory
        self._flush_seconds = flush_seconds
        self._batch_size = batch_size
        self._own: RunReader | None = None
        # Dead processes' run directories being drained, with the lock fd we hold on each.
        self._adopted: dict[Path, tuple[RunReader, int]] = {}
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def flush(self) -> int:
        """One pass over every run directory this process may drain; returns rows inserted."""
        with self._flushing:
            inserted = 0
            self._adopt()
            for path, (reader, lock_fd) in list(self._adopted.items()):
                inserted += self._drain(reader)
                if reader.exhausted and reader.idle:
                    reader.remove()
                    os.close(lock_fd)
                    del self._adopted[path]
            if self._own is None and self.spool.run_directory is not None:
                self._own = RunReader(self.spool.run_directory, live=True)
            if self._own is not None:
                inserted += self._drain(self._own)
            return inserted

    def _adopt(self) -> None:
        for run_dir in run_directories(self.spool.directory):
            if run_dir == self.spool.run_directory or run_dir in self._adopted:
                continue
            lock_fd = lock_run(run_dir)
            if lock_fd is not None:
                log.info("access log: replaying the spool of a stopped process (%s)", run_dir.name)
                self._adopted[run_dir] = (RunReader(run_dir, live=False), lock_fd)

    def _drain(self, reader: RunReader) -> int:
        inserted = 0
        while batch := reader.next_batch(self._batch_size, self.spool.run_id):
            with transaction(self._session_factory) as session:
                inserted += service.append(session, batch)
            reader.commit()
        reader.commit()  # progress made without records, e.g. past a torn line
        return inserted

    def start(self) -> None:
        self._stop.clear()
        self._threads = [
            threading.Thread(
                target=self._every,
                args=(self._flush_seconds, self.flush),
                name="access-log-flush",
                daemon=True,
            ),
            threading.Thread(
                target=self._every,
                args=(SYNC_SECONDS, self.spool.sync),
                name="access-log-sync",
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()

    def _every(self, seconds: float, action: Callable[[], object]) -> None:
        # Runs at once first: on start, whatever earlier processes left is replayed.
        while True:
            try:
                action()
            except Exception:  # any: a dead thread would stall the log silently
                log.warning("access log: %s failed; retrying", action.__name__, exc_info=True)
            if self._stop.wait(seconds):
                return

    def stop(self) -> None:
        """Stop the threads, refuse further records, flush, and give up the spool directory.

        Call it after the proxy has stopped taking requests. Requests still open stay in the
        spool, and the next process to start marks them incomplete.
        """
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        try:
            self.spool.close()
            self.flush()
            if self._own is not None and self._own.idle:
                self._own.remove()
        except Exception:  # any: shutdown goes on, and the spool keeps what is left
            log.warning(
                "access log: could not flush at shutdown; the next start replays it",
                exc_info=True,
            )
        finally:
            self.spool.release()
            for _reader, lock_fd in self._adopted.values():
                os.close(lock_fd)
            self._adopted.clear()
