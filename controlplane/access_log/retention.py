"""The scheduled prune: every `GATEHOUSE_ACCESS_LOG_PRUNE_INTERVAL_SECONDS`, remove the records
older than `GATEHOUSE_ACCESS_LOG_RETENTION_DAYS`, as `gatehouse access-log prune` does.

One APScheduler job per process, run once at start (a process restarted more often than the
interval still prunes) and then every interval. Runs never overlap: the scheduler allows one
instance and coalesces missed runs into one, and a run started by hand while another is going
is skipped. A failed run is logged and the next one simply tries again; every step of a prune
is its own transaction and leaves the chain verifiable.

Processes sharing a database may prune at the same time: `service.prune_step` locks the chain's
anchor first (FOR UPDATE on PostgreSQL, where the waiting prune then reads the moved anchor;
BEGIN IMMEDIATE on SQLite), so they take turns and the second finds nothing left to do.
"""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

# APScheduler 3.x ships no type information (no py.typed, no stubs package).
from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]
from sqlalchemy.orm import Session

from controlplane.access_log import runtime
from controlplane.access_log.service import Pruned
from controlplane.config import Settings

log = logging.getLogger(__name__)
JOB_ID = "access-log-prune"


class RetentionJob:
    """`interval_seconds` 0: `start` schedules nothing (`run` still works when called)."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        *,
        older_than: timedelta,
        interval_seconds: float,
    ) -> None:
        self._session_factory = session_factory
        self._older_than = older_than
        self._interval_seconds = interval_seconds
        self._running = threading.Lock()
        self._scheduler: BackgroundScheduler | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, session_factory: Callable[[], Session]
    ) -> "RetentionJob":
        return cls(
            session_factory,
            older_than=timedelta(days=settings.access_log_retention_days),
            interval_seconds=settings.access_log_prune_interval_seconds,
        )

    @property
    def enabled(self) -> bool:
        return self._interval_seconds > 0

    @property
    def running(self) -> bool:
        """A prune is under way in this process."""
        return self._running.locked()

    def run(self) -> Pruned | None:
        """One prune; None if it failed or another run of this process was still going."""
        if not self._running.acquire(blocking=False):
            log.info("access log: a prune is still running; skipping this one")
            return None
        try:
            result = runtime.prune(self._session_factory, self._older_than)
        except Exception:  # any: the next run retries, and nothing half-done is left behind
            log.warning("access log: scheduled prune failed; the next run retries", exc_info=True)
            return None
        finally:
            self._running.release()
        _log_outcome(result, self._older_than)
        return result

    def start(self) -> None:
        if not self.enabled:
            log.info("access log: scheduled prune is off (interval 0)")
            return
        scheduler = BackgroundScheduler(
            # One worker: a second run could only queue behind the first's anchor lock.
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            timezone=UTC,
        )
        scheduler.add_job(
            self.run,
            IntervalTrigger(seconds=self._interval_seconds, timezone=UTC),
            id=JOB_ID,
            name="access-log prune",
            next_run_time=datetime.now(UTC),
            max_instances=1,
            coalesce=True,
            # However late (a busy or suspended host), run once rather than skip the run.
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        """Stop scheduling; waits for a prune under way to finish."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)


def _log_outcome(result: Pruned, older_than: timedelta) -> None:
    if not result.rows and not result.partitions:
        log.debug("access log: nothing older than %s to prune", _age(older_than))
        return
    dropped = f", dropped partitions {', '.join(result.partitions)}" if result.partitions else ""
    # `rows` counts deleted rows only: a dropped partition's rows are not counted.
    log.info(
        "access log: pruned records older than %s: deleted %d rows%s; "
        "the chain now starts after seq %d",
        _age(older_than),
        result.rows,
        dropped,
        result.anchor.seq,
    )


def _age(older_than: timedelta) -> str:
    whole_days = older_than % timedelta(days=1) == timedelta(0)
    return f"{older_than.days}d" if whole_days else str(older_than)
