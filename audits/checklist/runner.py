"""Running the checklist: automated checks against a control plane, manual items against
attestations.

Each automated check runs in a read-only transaction of its own, so that one failing check
(or one whose database read fails) never spoils another. Without a control plane (a standalone
scan) every automated check is `not_applicable`. A check that raises becomes `error`, described
by its exception type and, only for errors whose messages are known to be safe, their message:
a database error's text carries SQL and parameters, and an arbitrary message may carry anything.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from audits.checklist.checks import REGISTRY
from audits.checklist.context import CheckContext
from audits.checklist.items import ChecklistItem, ManualCheck
from audits.model import Attestation, CheckResult, CheckStatus
from controlplane.container import Container
from controlplane.db import transaction
from controlplane.errors import GatehouseError
from controlplane.kit.clock import as_utc
from controlplane.observability import scrub_text

log = logging.getLogger(__name__)
NO_CONTROL_PLANE = "no control plane configured"


def describe_failure(error: Exception) -> str:
    """What a check's exception may say in a result: never its free text unless known safe."""
    kind = type(error).__name__
    if isinstance(error, SQLAlchemyError):
        detail = "the database could not be read"
    elif isinstance(error, GatehouseError):
        detail = scrub_text(error.message)
    elif isinstance(error, OSError):
        detail = ": ".join(
            part for part in (error.strerror, error.filename and str(error.filename)) if part
        )
    else:
        detail = "its message is withheld, as it may hold what the check read"
    return f"the check failed with {kind}: {detail or 'no detail'}"


def _automated(
    item: ChecklistItem, container: Container | None, now: datetime
) -> tuple[CheckStatus, str]:
    if container is None:
        return CheckStatus.NOT_APPLICABLE, NO_CONTROL_PLANE
    check = REGISTRY.get(item.check or "")
    if check is None:
        return CheckStatus.ERROR, f"no automated check named {item.check!r} is registered"
    # Any failure of one check is that check's result. Its traceback may carry what the check
    # read, so the log gets what the result gets, no more.
    try:
        with transaction(container.session_factory, read_only=True) as session:
            outcome = check(CheckContext(container, session, now))
    except Exception as error:  # noqa: BLE001 - see above: no traceback, by design
        explanation = describe_failure(error)
        log.warning("checklist item %s: %s", item.id, explanation)
        return CheckStatus.ERROR, explanation
    return outcome.status, outcome.explanation


def _day(instant: datetime) -> str:
    return as_utc(instant).date().isoformat()


def _current(manual: ManualCheck, attestation: Attestation, now: datetime) -> bool:
    if as_utc(attestation.expires_at) <= now:
        return False
    age_limit = manual.max_age_days
    return age_limit is None or now - as_utc(attestation.attested_at) <= timedelta(days=age_limit)


def _manual(
    manual: ManualCheck, attestations: Sequence[Attestation], now: datetime
) -> tuple[CheckStatus, str, Attestation | None]:
    current = [a for a in attestations if _current(manual, a, now)]
    if current:
        best = max(current, key=lambda a: as_utc(a.attested_at))
        return (
            CheckStatus.PASS,
            f"attested by {best.attested_by} on {_day(best.attested_at)}, expires "
            f"{_day(best.expires_at)}; evidence: {best.evidence}",
            best,
        )
    needed = f"needs an attestation with evidence: {manual.evidence_hint}"
    if not attestations:
        return CheckStatus.MANUAL, f"not attested; {needed}", None
    last = max(attestations, key=lambda a: as_utc(a.attested_at))
    if as_utc(last.expires_at) <= now:
        why = f"expired on {_day(last.expires_at)}"
    else:
        why = f"is older than {manual.max_age_days} days"
    return (
        CheckStatus.MANUAL,
        f"the last attestation (by {last.attested_by} on {_day(last.attested_at)}) {why}; {needed}",
        None,
    )


def run_checklist(
    items: list[ChecklistItem],
    *,
    container: Container | None,
    attestations: list[Attestation],
    now: datetime,
) -> list[CheckResult]:
    """One result per item, in the items' order. Attestations count for manual items only."""
    now = as_utc(now)
    results = []
    for item in items:
        attestation = None
        if item.manual is not None:
            mine = [a for a in attestations if a.item_id == item.id]
            status, explanation, attestation = _manual(item.manual, mine, now)
        else:
            status, explanation = _automated(item, container, now)
        results.append(
            CheckResult(
                item_id=item.id,
                title=item.title,
                severity=item.severity,
                kind=item.kind,
                status=status,
                explanation=explanation,
                threats=item.threats,
                asvs=item.asvs,
                attestation=attestation,
            )
        )
    return results
