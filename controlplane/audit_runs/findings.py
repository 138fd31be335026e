"""Findings as they stand now, and the suppressions that accept them.

A finding's stored status is its latest run's, before suppressions; suppressions are applied
when it is read, as of that moment. So a new suppression takes effect at once, an expired or
revoked one stops counting at once, and the next run's lifecycle (which applies the same
suppressions) agrees with what was read.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from audits import suppressions as suppression_rules
from audits.model import FindingStatus, Suppression
from controlplane.audit_events import service as audit
from controlplane.audit_runs import records, repository
from controlplane.audit_runs.models import AuditFinding, AuditSuppression
from controlplane.audit_runs.schemas import FindingOut, FindingSuppress, RuleSuppress
from controlplane.audit_runs.validation import expiry
from controlplane.auth.scopes import Scope
from controlplane.context import Ctx
from controlplane.errors import NotFound
from controlplane.identity import service as identity
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id


def _unrevoked(ctx: Ctx, workspace_id: str) -> list[Suppression]:
    rows = repository.list_suppressions(ctx.session, workspace_id, include_revoked=False)
    return [records.suppression_of(row) for row in rows]


def _as_of(
    row: AuditFinding,
    file_suppressions: list[dict[str, Any]],
    suppressions: list[Suppression],
    now: datetime,
) -> FindingOut:
    status = FindingStatus(row.status)
    covering = None
    if status is not FindingStatus.FIXED:
        finding = records.finding_of(row, row.last_line, None, None)
        candidates = suppressions + records.file_suppressions_of(file_suppressions)
        covering = suppression_rules.covering(finding, candidates, now)
    return records.finding_out(
        row, FindingStatus.SUPPRESSED if covering is not None else status, covering
    )


def list_findings(
    ctx: Ctx,
    workspace_id: str,
    *,
    status: FindingStatus | None,
    severity: str | None,
    tool: str | None,
    target: str | None,
    after: str | None,
    limit: int,
) -> list[FindingOut]:
    """A page of findings by id. A status filter other than `fixed` depends on suppressions as
    of now, so it is applied here, reading on until the page is full or the findings end."""
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_READ)
    suppressions, now = _unrevoked(ctx, workspace_id), utcnow()
    fixed = None if status is None else status is FindingStatus.FIXED
    page: list[FindingOut] = []
    cursor = after
    while len(page) < limit:
        batch = repository.list_findings(
            ctx.session,
            workspace_id,
            target=target,
            tool=tool,
            severity=severity,
            fixed=fixed,
            after=cursor,
            limit=limit,
        )
        for row, file_suppressions in batch:
            cursor = row.id
            current = _as_of(row, file_suppressions, suppressions, now)
            if status is None or current.status is status:
                page.append(current)
                if len(page) == limit:
                    break
        if len(batch) < limit:
            break
    return page


def get_finding(ctx: Ctx, workspace_id: str, finding_id: str, action: Scope) -> FindingOut:
    identity.workspace_for(ctx, workspace_id, action)
    found = repository.get_finding(ctx.session, workspace_id, finding_id)
    if found is None:
        raise NotFound("finding not found")
    row, file_suppressions = found
    return _as_of(row, file_suppressions, _unrevoked(ctx, workspace_id), utcnow())


def _create(
    ctx: Ctx,
    workspace_id: str,
    body: FindingSuppress,
    *,
    fingerprint: str | None = None,
    rule: str | None = None,
    path_glob: str | None = None,
    finding_id: str | None = None,
) -> AuditSuppression:
    now, actor = utcnow(), ctx.require_principal().actor_id
    row = AuditSuppression(
        id=new_id("sup"),
        workspace_id=workspace_id,
        fingerprint=fingerprint,
        rule=rule,
        path_glob=path_glob,
        justification=body.justification,
        approver=body.approver or actor,
        created_by=actor,
        created_at=now,
        expires_at=expiry(ctx, body.expires_at, now),
    )
    repository.add(ctx.session, row)
    audit.record(
        ctx,
        "audit.suppression.create",
        target_type="audit_suppression",
        target_id=row.id,
        workspace_id=workspace_id,
        details={
            "finding_id": finding_id,
            "fingerprint": fingerprint,
            "rule": rule,
            "path_glob": path_glob,
            "approver": row.approver,
            "expires_at": row.expires_at.isoformat(),
        },
    )
    return row


def suppress_finding(
    ctx: Ctx, workspace_id: str, finding_id: str, body: FindingSuppress
) -> AuditSuppression:
    finding = get_finding(ctx, workspace_id, finding_id, Scope.AUDIT_RUN)
    return _create(ctx, workspace_id, body, fingerprint=finding.fingerprint, finding_id=finding.id)


def suppress_rule(ctx: Ctx, workspace_id: str, body: RuleSuppress) -> AuditSuppression:
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_RUN)
    return _create(ctx, workspace_id, body, rule=body.rule, path_glob=body.path_glob)


def list_suppressions(ctx: Ctx, workspace_id: str) -> Sequence[AuditSuppression]:
    """Every suppression ever made here, expired and revoked ones included."""
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_READ)
    return repository.list_suppressions(ctx.session, workspace_id, include_revoked=True)


def revoke_suppression(ctx: Ctx, workspace_id: str, suppression_id: str) -> AuditSuppression:
    """Ends a suppression now and keeps its record; revoking it again changes nothing."""
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_RUN)
    row = repository.get_suppression(ctx.session, workspace_id, suppression_id, lock=True)
    if row is None:
        raise NotFound("suppression not found")
    if row.revoked_at is None:
        row.revoked_at, row.revoked_by = utcnow(), ctx.require_principal().actor_id
        repository.add(ctx.session, row)
        audit.record(
            ctx,
            "audit.suppression.revoke",
            target_type="audit_suppression",
            target_id=row.id,
            workspace_id=workspace_id,
            details={"fingerprint": row.fingerprint, "rule": row.rule},
        )
    return row
