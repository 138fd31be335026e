"""Building the access log's process-wide pieces and the retention job around them."""

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from controlplane.access_log import service
from controlplane.access_log.flusher import Flusher
from controlplane.access_log.service import Pruned
from controlplane.access_log.spool import Spool
from controlplane.config import Settings
from controlplane.db import transaction
from controlplane.kit.clock import utcnow

PRUNE_BATCH = 10_000


def build_access_log(
    settings: Settings, session_factory: Callable[[], Session]
) -> tuple[Spool, Flusher]:
    """The spool the proxy writes to and the flusher that drains it (start/stop it with the app).

    Nothing touches the disk here: the spool claims its directory on the first record, so a
    broken disk makes proxied requests answer 503 instead of stopping the whole server.
    """
    spool = Spool(settings.home / "spool")
    return spool, Flusher(spool, session_factory, flush_seconds=settings.access_log_flush_seconds)


def prune(
    session_factory: Callable[[], Session],
    older_than: timedelta,
    *,
    now: datetime | None = None,
    batch_size: int = PRUNE_BATCH,
) -> Pruned:
    """Remove records older than `older_than`; what the scheduler and `access-log prune` run.

    Each step is its own transaction and leaves the chain verifiable, so an interrupted prune
    is simply continued by the next one.
    """
    cutoff = (now or utcnow()) - older_than
    total: Pruned | None = None
    while True:
        with transaction(session_factory) as session:
            step = service.prune_step(session, cutoff, batch_size)
        total = step if total is None else total.then(step)
        if not step.more:
            return total
