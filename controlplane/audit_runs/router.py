"""Security audits over HTTP: runs, findings, suppressions, trends, checklist, attestations."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from audits.model import FindingStatus, RunResult, Severity, Tool, TrendPoint
from audits.reports import ReportFormat, render
from controlplane.audit_runs import checklist, findings, records, service
from controlplane.audit_runs.schemas import (
    AttestationCreate,
    AttestationOut,
    ChecklistEntryOut,
    DiffOut,
    FindingOut,
    FindingSuppress,
    RuleSuppress,
    RunCreate,
    RunFindingOut,
    RunOut,
    SuppressionOut,
)
from controlplane.auth.scopes import Scope
from controlplane.http.deps import AuditRead, AuditRun
from controlplane.kit.clock import utcnow
from controlplane.kit.pagination import next_cursor
from controlplane.kit.schemas import Page, PageLimit

router = APIRouter(prefix="/v1/workspaces/{workspace_id}/audit", tags=["audits"])
# An uploaded run carries every finding, so this route has its own, larger, body limit.
IMPORT_SUFFIX = "/audit/runs/import"

REPORT_MEDIA = {
    ReportFormat.JSON: ("application/json", "json"),
    ReportFormat.MARKDOWN: ("text/markdown; charset=utf-8", "md"),
    ReportFormat.HTML: ("text/html; charset=utf-8", "html"),
    ReportFormat.SARIF: ("application/sarif+json", "sarif"),
}
TrendLimit = Annotated[int, Query(ge=1, le=365)]


# --- runs ---------------------------------------------------------------------------------


@router.post("/runs", response_model=RunOut, status_code=201)
def create_run(workspace_id: str, body: RunCreate, ctx: AuditRun) -> RunOut:
    """Run the engine here, over configured paths only, and store the run. Slow by nature."""
    return records.run_out(service.run_now(ctx, workspace_id, body))


@router.post("/runs/import", response_model=RunOut, status_code=201)
def import_run(workspace_id: str, body: RunResult, ctx: AuditRun) -> RunOut:
    """Store a run made elsewhere (`gatehouse audit run --upload`)."""
    return records.run_out(service.import_run(ctx, workspace_id, body))


@router.get("/runs", response_model=Page[RunOut])
def list_runs(
    workspace_id: str,
    ctx: AuditRead,
    target: str | None = None,
    cursor: str | None = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> Page[RunOut]:
    """Newest first."""
    rows = service.list_runs(ctx, workspace_id, target=target, before=cursor, limit=limit)
    return Page[RunOut](
        items=[records.run_out(row) for row in rows], next_cursor=next_cursor(rows, limit)
    )


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(workspace_id: str, run_id: str, ctx: AuditRead) -> RunOut:
    return records.run_out(service.get_run(ctx, workspace_id, run_id))


@router.get("/runs/{run_id}/findings", response_model=list[RunFindingOut])
def list_run_findings(
    workspace_id: str,
    run_id: str,
    ctx: AuditRead,
    status: FindingStatus | None = None,
    severity: Severity | None = None,
    tool: Tool | None = None,
) -> list[RunFindingOut]:
    return service.run_findings(
        ctx, workspace_id, run_id, status=status, severity=severity, tool=tool
    )


@router.get("/runs/{run_id}/diff", response_model=DiffOut)
def diff_runs(
    workspace_id: str, run_id: str, ctx: AuditRead, against: str | None = None
) -> DiffOut:
    return service.run_diff(ctx, workspace_id, run_id, against)


@router.get("/runs/{run_id}/report")
def get_report(
    workspace_id: str,
    run_id: str,
    ctx: AuditRead,
    fmt: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.JSON,
) -> Response:
    """The run rendered as JSON, Markdown, self-contained HTML or SARIF 2.1.0, as a download."""
    report = service.report(ctx, workspace_id, run_id)
    media_type, extension = REPORT_MEDIA[fmt]
    return Response(
        render(report, fmt),
        media_type=media_type,
        # The stored id, not the path's text: only [a-z0-9_] reaches the header.
        headers={"Content-Disposition": f'attachment; filename="{report.run_id}.{extension}"'},
    )


@router.get("/trends", response_model=list[TrendPoint])
def get_trends(
    workspace_id: str, ctx: AuditRead, target: str | None = None, limit: TrendLimit = 30
) -> list[TrendPoint]:
    return service.trends(ctx, workspace_id, target=target, limit=limit)


# --- findings and suppressions ------------------------------------------------------------


@router.get("/findings", response_model=Page[FindingOut])
def list_findings(
    workspace_id: str,
    ctx: AuditRead,
    status: FindingStatus | None = None,
    severity: Severity | None = None,
    tool: Tool | None = None,
    target: str | None = None,
    cursor: str | None = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> Page[FindingOut]:
    """Every finding's current state, by id; suppressions are applied as of now."""
    page = findings.list_findings(
        ctx,
        workspace_id,
        status=status,
        severity=severity,
        tool=tool,
        target=target,
        after=cursor,
        limit=limit,
    )
    return Page[FindingOut](items=page, next_cursor=next_cursor(page, limit))


@router.get("/findings/{finding_id}", response_model=FindingOut)
def get_finding(workspace_id: str, finding_id: str, ctx: AuditRead) -> FindingOut:
    return findings.get_finding(ctx, workspace_id, finding_id, Scope.AUDIT_READ)


@router.post("/findings/{finding_id}/suppress", response_model=SuppressionOut, status_code=201)
def suppress_finding(
    workspace_id: str, finding_id: str, body: FindingSuppress, ctx: AuditRun
) -> SuppressionOut:
    row = findings.suppress_finding(ctx, workspace_id, finding_id, body)
    return records.suppression_out(row, utcnow())


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def suppress_rule(workspace_id: str, body: RuleSuppress, ctx: AuditRun) -> SuppressionOut:
    """Every finding of a rule, optionally only under a path glob."""
    return records.suppression_out(findings.suppress_rule(ctx, workspace_id, body), utcnow())


@router.get("/suppressions", response_model=list[SuppressionOut])
def list_suppressions(workspace_id: str, ctx: AuditRead) -> list[SuppressionOut]:
    now = utcnow()
    return [
        records.suppression_out(row, now) for row in findings.list_suppressions(ctx, workspace_id)
    ]


@router.delete("/suppressions/{suppression_id}", response_model=SuppressionOut)
def revoke_suppression(workspace_id: str, suppression_id: str, ctx: AuditRun) -> SuppressionOut:
    """Ends the suppression now; its record stays."""
    row = findings.revoke_suppression(ctx, workspace_id, suppression_id)
    return records.suppression_out(row, utcnow())


# --- checklist and attestations -----------------------------------------------------------


@router.get("/checklist", response_model=list[ChecklistEntryOut])
def get_checklist(workspace_id: str, ctx: AuditRead) -> list[ChecklistEntryOut]:
    return checklist.checklist(ctx, workspace_id)


@router.post("/attestations", response_model=AttestationOut, status_code=201)
def attest(workspace_id: str, body: AttestationCreate, ctx: AuditRun) -> AttestationOut:
    return records.attestation_out(checklist.attest(ctx, workspace_id, body), utcnow())


@router.get("/attestations", response_model=list[AttestationOut])
def list_attestations(workspace_id: str, ctx: AuditRead) -> list[AttestationOut]:
    now = utcnow()
    return [
        records.attestation_out(row, now) for row in checklist.list_attestations(ctx, workspace_id)
    ]
