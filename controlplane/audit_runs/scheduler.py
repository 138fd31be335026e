"""The scheduled audit: the checklist and a scan of `audit_scan_paths`, on `audit_schedule`
(a crontab, UTC; nightly at 03:00 by default), stored with source "schedule" in
`audit_workspace` (default: the oldest workspace).

One APScheduler job per serving process, as the access-log prune does: one instance at a time,
missed runs coalesced into one. Every process sharing the database schedules it, and each slot
runs once between them: the first to claim the slot in `job_claims` runs it, the others skip
(`controlplane.scheduling.claims`). A failed run is logged and recorded on its claim; the next
slot simply runs again.
"""

import logging
from datetime import UTC, datetime

# APScheduler 3.x ships no type information (no py.typed, no stubs package).
from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from audits.engine import execute
from controlplane.audit_runs import service
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.kit.clock import utcnow
from controlplane.scheduling import claims

log = logging.getLogger(__name__)
JOB = "security-audit"


class NoWorkspace(LookupError):
    """`audit_workspace` names no workspace, or there is none yet."""


class AuditSchedule:
    """`audit_schedule` empty: `start` schedules nothing (`run` still works when called)."""

    def __init__(self, container: Container) -> None:
        self._container = container
        schedule = container.settings.audit_schedule
        self._trigger = CronTrigger.from_crontab(schedule, timezone=UTC) if schedule else None
        self._scheduler: BackgroundScheduler | None = None

    @property
    def enabled(self) -> bool:
        return self._trigger is not None

    def run(self, now: datetime | None = None) -> str | None:
        """The slot due at `now`, if this process wins it: the stored run's id, else None."""
        if self._trigger is None:
            return None
        slot = claims.latest_fire_time(self._trigger, now or utcnow())
        factory = self._container.session_factory
        if slot is None or not claims.claim(factory, JOB, slot):
            return None
        try:
            run_id = self._audit()
        except Exception as error:  # any: recorded on the claim; the next slot runs again
            log.warning("scheduled audit of slot %s failed", slot.isoformat(), exc_info=True)
            claims.finish(factory, JOB, slot, f"failed: {type(error).__name__}")
            return None
        claims.finish(factory, JOB, slot, run_id)
        log.info("scheduled audit of slot %s stored as %s", slot.isoformat(), run_id)
        return run_id

    def _audit(self) -> str:
        container, settings = self._container, self._container.settings
        with transaction(container.session_factory, read_only=True) as session:
            reading = Ctx(session, container)
            workspace_id = service.scheduled_workspace(reading)
            if workspace_id is None:
                raise NoWorkspace(settings.audit_workspace or "no workspace exists yet")
            attestations = service.attestations_of(reading, workspace_id)
        # The scan runs outside any transaction: it can take minutes.
        result = execute(
            service.server_request(settings, list(settings.audit_scan_paths), checklist=True),
            container=container,
            attestations=attestations,
        )
        with transaction(container.session_factory) as session:
            run = service.store_scheduled(Ctx(session, container), workspace_id, result)
        return run.id

    def start(self) -> None:
        if self._trigger is None:
            log.info("security audits: the schedule is off (GATEHOUSE_AUDIT_SCHEDULE is empty)")
            return
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)}, timezone=UTC
        )
        scheduler.add_job(
            self.run,
            self._trigger,
            id=JOB,
            name="security audit",
            max_instances=1,
            coalesce=True,
            # However late (a busy or suspended host), run once rather than skip the slot.
            misfire_grace_time=None,
        )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        """Stop scheduling; waits for a run under way to finish."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)
