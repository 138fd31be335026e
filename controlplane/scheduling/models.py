"""One row per job slot that some process took: the primary key is the exactly-once guarantee."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.db import Base
from controlplane.kit.clock import utcnow


class JobClaim(Base):
    __tablename__ = "job_claims"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The scheduled time this run belongs to, not when it started: every process computes it
    # alike from the same schedule, so they collide on the key however late each one fires.
    slot: Mapped[datetime] = mapped_column(primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(200))
