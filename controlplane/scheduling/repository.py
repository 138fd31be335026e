"""Job-claim queries. Functions flush at most; the boundary commits."""

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from controlplane.scheduling.models import JobClaim


def add(session: Session, claim: JobClaim) -> None:
    session.add(claim)
    session.flush()


def finish(session: Session, job: str, slot: datetime, *, at: datetime, outcome: str) -> None:
    session.execute(
        update(JobClaim)
        .where(JobClaim.job == job, JobClaim.slot == slot)
        .values(finished_at=at, outcome=outcome)
    )
