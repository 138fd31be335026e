"""Between stored rows and the engine's shapes: findings, suppressions, runs and their outs.

A finding row keeps what its filters need as columns and the rest of the `Finding` as JSON, so
a field the engine adds later is stored and served without a migration.
"""

from datetime import datetime
from typing import Any

from audits.model import Finding, FindingStatus, ReportedFinding, ScanStats, Suppression
from controlplane.audit_runs.models import (
    AuditAttestation,
    AuditFinding,
    AuditRun,
    AuditRunFinding,
    AuditSuppression,
)
from controlplane.audit_runs.schemas import (
    AttestationOut,
    FindingOut,
    RunCounts,
    RunFindingOut,
    RunOut,
    RunSource,
    SuppressionOut,
)

# Columns of their own; `line`, `commits` and `liveness` belong to each run's sighting.
_COLUMNS = {"fingerprint", "tool", "rule", "severity", "category", "path"}
_PER_RUN = {"line", "commits", "liveness"}


def attributes_of(finding: Finding) -> dict[str, Any]:
    return finding.model_dump(mode="json", include=set(Finding.model_fields) - _COLUMNS - _PER_RUN)


def fill_row(row: AuditFinding, finding: Finding) -> None:
    row.tool, row.rule, row.path = finding.tool.value, finding.rule, finding.path
    row.severity, row.category = finding.severity.value, finding.category.value
    row.attributes = attributes_of(finding)


def finding_of(
    row: AuditFinding, line: int | None, commits: list[str] | None, liveness: str | None
) -> Finding:
    return Finding.model_validate(
        {
            **row.attributes,
            "fingerprint": row.fingerprint,
            "tool": row.tool,
            "rule": row.rule,
            "severity": row.severity,
            "category": row.category,
            "path": row.path,
            "line": line,
            "commits": tuple(commits or ()),
            "liveness": liveness,
        }
    )


def sighting_of(link: AuditRunFinding, row: AuditFinding) -> Finding:
    """The finding as one run saw it."""
    return finding_of(row, link.line, link.commits, link.liveness)


def run_finding_out(link: AuditRunFinding, row: AuditFinding) -> RunFindingOut:
    return RunFindingOut(
        **sighting_of(link, row).model_dump(),
        id=row.id,
        status=FindingStatus(link.status),
        first_seen_at=row.first_seen_at,
        suppression=Suppression.model_validate(link.suppression) if link.suppression else None,
    )


def reported(out: RunFindingOut) -> ReportedFinding:
    return ReportedFinding.model_validate(out.model_dump(include=set(ReportedFinding.model_fields)))


def finding_out(
    row: AuditFinding, status: FindingStatus, suppression: Suppression | None
) -> FindingOut:
    return FindingOut(
        **finding_of(row, row.last_line, None, None).model_dump(),
        id=row.id,
        target=row.target,
        status=status,
        first_seen_at=row.first_seen_at,
        suppression=suppression,
        last_seen_at=row.last_seen_at,
        last_run_id=row.last_run_id,
    )


def suppression_of(row: AuditSuppression) -> Suppression:
    return Suppression(
        id=row.id,
        fingerprint=row.fingerprint,
        rule=row.rule,
        path_glob=row.path_glob,
        justification=row.justification,
        approver=row.approver,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def file_suppressions_of(stored: list[dict[str, Any]]) -> list[Suppression]:
    return [Suppression.model_validate(item) for item in stored]


def suppression_out(row: AuditSuppression, now: datetime) -> SuppressionOut:
    expired, revoked = row.expires_at <= now, row.revoked_at is not None
    return SuppressionOut(
        id=row.id,
        workspace_id=row.workspace_id,
        fingerprint=row.fingerprint,
        rule=row.rule,
        path_glob=row.path_glob,
        justification=row.justification,
        approver=row.approver,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        expired=expired,
        revoked=revoked,
        active=not expired and not revoked,
    )


def attestation_out(row: AuditAttestation, now: datetime) -> AttestationOut:
    return AttestationOut(
        id=row.id,
        workspace_id=row.workspace_id,
        item_id=row.item_id,
        attested_by=row.attested_by,
        attested_at=row.attested_at,
        evidence=row.evidence,
        expires_at=row.expires_at,
        active=row.expires_at > now,
    )


def run_out(row: AuditRun) -> RunOut:
    counts = row.counts or {}
    return RunOut(
        id=row.id,
        workspace_id=row.workspace_id,
        target=row.target,
        source=RunSource(row.source),
        started_at=row.started_at,
        finished_at=row.finished_at,
        stored_at=row.stored_at,
        stored_by=row.stored_by,
        tool_versions=dict(row.tool_versions),
        counts=RunCounts(
            status=dict(counts.get("status", {})),
            severity=dict(counts.get("severity", {})),
            checks=dict(counts.get("checks", {})),
        ),
        stats=ScanStats.model_validate(row.stats),
    )
