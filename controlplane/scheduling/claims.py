"""Exactly-once job slots across control planes that share a database.

Every process schedules the same job; whichever inserts the slot's row first runs it, and the
others meet the primary key and skip. On PostgreSQL a second insert waits for the first
transaction and then fails on the key; on SQLite the write lock makes them take turns. The
claim commits on its own, before the work starts, so it is visible to every other process at
once. A process that dies mid-run leaves its slot claimed and unfinished (`finished_at` NULL):
that slot is lost, and the next one runs as usual.
"""

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from controlplane.db import transaction
from controlplane.kit.clock import utcnow
from controlplane.scheduling import repository
from controlplane.scheduling.models import JobClaim

log = logging.getLogger(__name__)

# Far enough back for any crontab (yearly schedules included), bounded all the same.
_LOOKBACK_LIMIT = timedelta(days=400)


class FireTimes(Protocol):
    """What `latest_fire_time` needs of a trigger: APScheduler's `get_next_fire_time`."""

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None: ...


def latest_fire_time(trigger: FireTimes, now: datetime) -> datetime | None:
    """The most recent scheduled time at or before `now`: the slot a run at `now` belongs to.

    Widens the look-back window until it holds a fire time, then steps forward to the last one
    not after `now`: a few trigger evaluations for any schedule, however frequent.
    """
    lookback = timedelta(minutes=1)
    while lookback <= _LOOKBACK_LIMIT:
        fire = trigger.get_next_fire_time(None, now - lookback)
        if fire is not None and fire <= now:
            while True:
                following = trigger.get_next_fire_time(fire, fire)
                if following is None or following <= fire or following > now:
                    return fire
                fire = following
        lookback *= 2
    return None


def this_process() -> str:
    """Who holds a claim, for people reading the table: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(session_factory: Callable[[], Session], job: str, slot: datetime) -> bool:
    """Take `slot` of `job` for this process; False when another process already has it."""
    try:
        with transaction(session_factory) as session:
            repository.add(
                session,
                JobClaim(job=job, slot=slot, claimed_by=this_process(), claimed_at=utcnow()),
            )
    except IntegrityError:
        log.info("%s: the %s slot is taken by another process; skipping", job, slot.isoformat())
        return False
    return True


def finish(session_factory: Callable[[], Session], job: str, slot: datetime, outcome: str) -> None:
    """Record how a claimed slot ended (a run id, or the error type), for whoever looks."""
    with transaction(session_factory) as session:
        repository.finish(session, job, slot, at=utcnow(), outcome=outcome[:200])
