"""Every audit query lives here. Functions flush at most; the boundary commits."""

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from controlplane.audit_runs.models import (
    AuditAttestation,
    AuditCheckResult,
    AuditFinding,
    AuditRun,
    AuditRunFinding,
    AuditSuppression,
)

_IN_SLICE = 1_000
Row = (
    AuditRun
    | AuditFinding
    | AuditRunFinding
    | AuditCheckResult
    | AuditSuppression
    | AuditAttestation
)


def add(session: Session, *rows: Row) -> None:
    session.add_all(rows)
    session.flush()


def lock_target(session: Session, workspace_id: str, target: str) -> None:
    """Serialise the storing of runs of one target until this transaction ends, so each one
    classifies against the run stored before it and never races it for a finding's row.

    PostgreSQL: a transaction-scoped advisory lock on the (workspace, target) pair. SQLite:
    nothing to do, every writing transaction already holds the database's write lock.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"audit-target\x1f{workspace_id}\x1f{target}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# --- runs ---------------------------------------------------------------------------------


def get_run(session: Session, workspace_id: str, run_id: str) -> AuditRun | None:
    return session.scalars(
        select(AuditRun).where(AuditRun.id == run_id, AuditRun.workspace_id == workspace_id)
    ).one_or_none()


def latest_run(
    session: Session, workspace_id: str, target: str, *, before: str | None = None
) -> AuditRun | None:
    """The target's most recently stored run (before run id `before`, if given)."""
    query = select(AuditRun).where(AuditRun.workspace_id == workspace_id, AuditRun.target == target)
    if before is not None:
        query = query.where(AuditRun.id < before)
    return session.scalars(query.order_by(AuditRun.id.desc()).limit(1)).first()


def list_runs(
    session: Session, workspace_id: str, *, target: str | None, before: str | None, limit: int
) -> Sequence[AuditRun]:
    """Newest first; `before` is the cursor (the last id of the previous page)."""
    query = select(AuditRun).where(AuditRun.workspace_id == workspace_id)
    if target is not None:
        query = query.where(AuditRun.target == target)
    if before is not None:
        query = query.where(AuditRun.id < before)
    return session.scalars(query.order_by(AuditRun.id.desc()).limit(limit)).all()


def run_findings(session: Session, run_id: str) -> list[tuple[AuditRunFinding, AuditFinding]]:
    rows = session.execute(
        select(AuditRunFinding, AuditFinding)
        .join(AuditFinding, AuditFinding.id == AuditRunFinding.finding_id)
        .where(AuditRunFinding.run_id == run_id)
    ).all()
    return [(row[0], row[1]) for row in rows]


def check_results(session: Session, run_id: str) -> Sequence[AuditCheckResult]:
    return session.scalars(
        select(AuditCheckResult)
        .where(AuditCheckResult.run_id == run_id)
        .order_by(AuditCheckResult.item_id)
    ).all()


def latest_check_results(session: Session, workspace_id: str) -> Sequence[AuditCheckResult]:
    """Each checklist item's result in the latest run of this workspace that ran it."""
    latest = (
        select(AuditCheckResult.item_id, func.max(AuditCheckResult.run_id).label("run_id"))
        .where(AuditCheckResult.workspace_id == workspace_id)
        .group_by(AuditCheckResult.item_id)
        .subquery()
    )
    return session.scalars(
        select(AuditCheckResult).join(
            latest,
            (AuditCheckResult.item_id == latest.c.item_id)
            & (AuditCheckResult.run_id == latest.c.run_id),
        )
    ).all()


def trend_rows(
    session: Session,
    workspace_id: str,
    *,
    target: str | None,
    up_to: str | None,
    limit: int,
) -> list[tuple[str, datetime, str | None, str | None, str | None, str | None]]:
    """(run id, started at, fingerprint, status, severity, category) for every finding each of
    the last `limit` runs reported, and one row with no finding for a run that reported none."""
    runs = select(AuditRun.id, AuditRun.started_at).where(AuditRun.workspace_id == workspace_id)
    if target is not None:
        runs = runs.where(AuditRun.target == target)
    if up_to is not None:
        runs = runs.where(AuditRun.id <= up_to)
    recent = runs.order_by(AuditRun.id.desc()).limit(limit).subquery()
    rows = session.execute(
        select(
            recent.c.id,
            recent.c.started_at,
            AuditFinding.fingerprint,
            AuditRunFinding.status,
            AuditFinding.severity,
            AuditFinding.category,
        )
        .select_from(recent)
        .outerjoin(AuditRunFinding, AuditRunFinding.run_id == recent.c.id)
        .outerjoin(AuditFinding, AuditFinding.id == AuditRunFinding.finding_id)
    ).all()
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


# --- findings -----------------------------------------------------------------------------


def findings_of_target(
    session: Session, workspace_id: str, target: str, fingerprints: Collection[str]
) -> dict[str, AuditFinding]:
    found: dict[str, AuditFinding] = {}
    ordered = sorted(fingerprints)
    # In slices: a history scan can report more findings than a statement takes parameters.
    for start in range(0, len(ordered), _IN_SLICE):
        rows = session.scalars(
            select(AuditFinding).where(
                AuditFinding.workspace_id == workspace_id,
                AuditFinding.target == target,
                AuditFinding.fingerprint.in_(ordered[start : start + _IN_SLICE]),
            )
        ).all()
        found.update((row.fingerprint, row) for row in rows)
    return found


def get_finding(
    session: Session, workspace_id: str, finding_id: str
) -> tuple[AuditFinding, list[dict[str, Any]]] | None:
    """The finding, and its latest run's own (file) suppressions."""
    row = session.execute(
        select(AuditFinding, AuditRun.file_suppressions)
        .join(AuditRun, AuditRun.id == AuditFinding.last_run_id)
        .where(AuditFinding.id == finding_id, AuditFinding.workspace_id == workspace_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def list_findings(
    session: Session,
    workspace_id: str,
    *,
    target: str | None,
    tool: str | None,
    severity: str | None,
    fixed: bool | None,
    after: str | None,
    limit: int,
) -> list[tuple[AuditFinding, list[dict[str, Any]]]]:
    """Findings by id, each with its latest run's file suppressions; `fixed` None: all."""
    query = (
        select(AuditFinding, AuditRun.file_suppressions)
        .join(AuditRun, AuditRun.id == AuditFinding.last_run_id)
        .where(AuditFinding.workspace_id == workspace_id)
    )
    if target is not None:
        query = query.where(AuditFinding.target == target)
    if tool is not None:
        query = query.where(AuditFinding.tool == tool)
    if severity is not None:
        query = query.where(AuditFinding.severity == severity)
    if fixed is not None:
        query = query.where(
            AuditFinding.status == "fixed" if fixed else AuditFinding.status != "fixed"
        )
    if after is not None:
        query = query.where(AuditFinding.id > after)
    rows = session.execute(query.order_by(AuditFinding.id).limit(limit)).all()
    return [(row[0], row[1]) for row in rows]


# --- suppressions and attestations --------------------------------------------------------


def list_suppressions(
    session: Session, workspace_id: str, *, include_revoked: bool
) -> Sequence[AuditSuppression]:
    query = select(AuditSuppression).where(AuditSuppression.workspace_id == workspace_id)
    if not include_revoked:
        query = query.where(AuditSuppression.revoked_at.is_(None))
    return session.scalars(query.order_by(AuditSuppression.id)).all()


def get_suppression(
    session: Session, workspace_id: str, suppression_id: str, *, lock: bool = False
) -> AuditSuppression | None:
    query = select(AuditSuppression).where(
        AuditSuppression.id == suppression_id, AuditSuppression.workspace_id == workspace_id
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def list_attestations(
    session: Session, workspace_id: str, *, unexpired_at: datetime | None = None
) -> Sequence[AuditAttestation]:
    query = select(AuditAttestation).where(AuditAttestation.workspace_id == workspace_id)
    if unexpired_at is not None:
        query = query.where(AuditAttestation.expires_at > unexpired_at)
    return session.scalars(query.order_by(AuditAttestation.id)).all()
