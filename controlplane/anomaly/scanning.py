"""Scanning the database's access log: each event once, in seq order, across control planes.

A scan reads the rows after the stored watermark (a seq) in a read-only transaction, runs the
detectors outside any transaction, then in one short writing transaction moves the watermark
by compare-and-set and stores the alerts, the baselines and a record of the scan. When two
control planes scan the same rows, exactly one compare-and-set matches; the other rolls back
and stores nothing. A crash before the commit leaves the watermark where it was, so the rows
are scanned again: a restart neither skips nor repeats an event.

Seqs are assigned under the access log's chain lock and commit in order, so no row can appear
later below a watermark already passed.
"""

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from controlplane.access_log import repository as access_log
from controlplane.anomaly import alerts as stored_alerts
from controlplane.anomaly import repository
from controlplane.anomaly.detection import Baselines, DetectionConfig, frame_from_records, scan
from controlplane.anomaly.models import AnomalyScan, AnomalyState
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.scheduling.claims import this_process

log = logging.getLogger(__name__)

STATE = "access-log"
# A backlog (after downtime) is worked through in batches, at most this many per call.
MAX_BATCHES = 50


@dataclass(frozen=True)
class Batch:
    events: int
    after_seq: int
    through_seq: int
    opened: int
    updated: int


@dataclass(frozen=True)
class Outcome:
    batches: list[Batch]

    @property
    def events(self) -> int:
        return sum(batch.events for batch in self.batches)


def detection_config(container: Container) -> DetectionConfig:
    return DetectionConfig.with_overrides(container.settings.anomaly_detection)


def scan_backlog(container: Container, *, max_batches: int = MAX_BATCHES) -> Outcome:
    """Scan until caught up (or `max_batches`); a lost race ends it, the winner has the rows."""
    batches: list[Batch] = []
    for _ in range(max_batches):
        batch = scan_batch(container)
        if batch is None:
            break
        batches.append(batch)
        if batch.events < container.settings.anomaly_batch_events:
            break
    return Outcome(batches)


def scan_batch(container: Container) -> Batch | None:
    """One batch of new rows; None when there are none or another process took them."""
    started = utcnow()
    with transaction(container.session_factory, read_only=True) as session:
        state = repository.get_state(session, STATE)
        watermark = state.watermark if state is not None else 0
        baselines = Baselines.from_json(state.baselines) if state is not None else Baselines.empty()
        rows = access_log.list_entries(
            session,
            workspace_ids=None,
            after=watermark,
            limit=container.settings.anomaly_batch_events,
        )
    if not rows:
        return None
    through = int(rows[-1].seq)
    result = scan(
        frame_from_records(row._mapping for row in rows), baselines, detection_config(container)
    )
    try:
        with transaction(container.session_factory) as session:
            ctx = Ctx(session, container)
            if not _advance(ctx, state, watermark, through, result.baselines.to_json()):
                log.info("anomaly scan of seq %d-%d: another process took it", watermark, through)
                return None
            opened, updated = stored_alerts.record(ctx, result.alerts)
            finished = utcnow()
            repository.add(
                session,
                AnomalyScan(
                    id=new_id("scan"),
                    after_seq=watermark,
                    through_seq=through,
                    events=len(rows),
                    alerts_opened=opened,
                    alerts_updated=updated,
                    scanned_by=this_process(),
                    started_at=started,
                    finished_at=finished,
                ),
            )
    except IntegrityError:
        # Another process created the state row (the very first scan) at the same moment.
        log.info("anomaly scan of seq %d-%d: another process took it", watermark, through)
        return None
    return Batch(len(rows), watermark, through, opened, updated)


def _advance(
    ctx: Ctx, state: AnomalyState | None, expected: int, through: int, baselines: dict[str, object]
) -> bool:
    now = utcnow()
    if state is None:
        # The first scan ever: the primary key lets exactly one process create the row.
        repository.add(
            ctx.session,
            AnomalyState(name=STATE, watermark=through, baselines=baselines, updated_at=now),
        )
        return True
    return repository.advance_state(
        ctx.session, STATE, expected=expected, watermark=through, baselines=baselines, now=now
    )
