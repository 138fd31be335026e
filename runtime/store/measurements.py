"""Reading the runs' stored measurements for reports (`gatehouse slo report`).

Only the columns a report needs, as plain rows: a window of a busy week is many runs, and
nothing here needs the ORM's identity map or change tracking.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime.store.models import RuntimeRun


@dataclass(frozen=True)
class RunMeasurement:
    id: str
    provider: str
    model: str
    started_at: datetime
    finish_reason: str | None  # None while the run is still going
    error_code: str | None
    ttft_ms: float | None
    upstream_ttft_ms: float | None
    overhead_ms: float | None
    e2e_ms: float | None


_COLUMNS = (
    RuntimeRun.id,
    RuntimeRun.provider,
    RuntimeRun.model,
    RuntimeRun.started_at,
    RuntimeRun.finish_reason,
    RuntimeRun.error_code,
    RuntimeRun.ttft_ms,
    RuntimeRun.upstream_ttft_ms,
    RuntimeRun.overhead_ms,
    RuntimeRun.e2e_ms,
)


def runs_since(session: Session, since: datetime) -> list[RunMeasurement]:
    """Every run started at or after `since`, oldest first."""
    query = (
        select(*_COLUMNS)
        .where(RuntimeRun.started_at >= since)
        .order_by(RuntimeRun.started_at, RuntimeRun.id)
    )
    return [RunMeasurement(**row._mapping) for row in session.execute(query)]
