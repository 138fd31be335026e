"""The anomaly scan, every `anomaly_scan_seconds` (60) in each serving process.

APScheduler runs at most one instance at a time per process and coalesces missed runs into
one. Processes sharing a database may all run it: each batch of access-log rows is committed
by exactly one of them (`scanning`, compare-and-set on the watermark), so a window is never
processed twice. After downtime the first run works through the backlog batch by batch.
"""

import logging
from datetime import UTC

# APScheduler 3.x ships no type information (no py.typed, no stubs package).
from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.interval import IntervalTrigger  # type: ignore[import-untyped]

from controlplane.anomaly import scanning
from controlplane.container import Container

log = logging.getLogger(__name__)
JOB = "anomaly-scan"


class AnomalySchedule:
    def __init__(self, container: Container) -> None:
        self._container = container
        self._scheduler: BackgroundScheduler | None = None

    def run(self) -> None:
        try:
            outcome = scanning.scan_backlog(self._container)
        except Exception:  # any: logged, and the next run starts from the same watermark
            log.warning("anomaly scan failed; the next run retries", exc_info=True)
            return
        if outcome.batches:
            log.info(
                "anomaly scan: %d events through seq %d, %d alerts opened",
                outcome.events,
                outcome.batches[-1].through_seq,
                sum(batch.opened for batch in outcome.batches),
            )

    def start(self) -> None:
        seconds = self._container.settings.anomaly_scan_seconds
        if seconds == 0:
            log.info("anomaly detection: the scan is off (GATEHOUSE_ANOMALY_SCAN_SECONDS=0)")
            return
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)}, timezone=UTC
        )
        scheduler.add_job(
            self.run,
            IntervalTrigger(seconds=seconds, timezone=UTC),
            id=JOB,
            name="anomaly scan",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        """Stop scheduling; waits for a scan under way to finish."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
