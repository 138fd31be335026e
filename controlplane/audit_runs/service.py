"""Audit runs: run one here, import one run elsewhere, and read them back (findings, diff,
report, trends). Runs stored by the schedule come through `store_scheduled`.

A run here scans only the trees the settings name (`audit_scan_paths`), never a path a request
chooses. The engine runs before this request's transaction begins, so a long scan holds no lock
and no pooled connection; what it needs from the database (attestations) is read first, in a
short transaction of its own.
"""

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from audits.checklist import DEFAULT_CHECKLIST, ChecklistError
from audits.config import ConfigError
from audits.engine import AuditRequest, execute
from audits.lifecycle import diff
from audits.model import (
    Attestation,
    Category,
    CheckResult,
    FindingStatus,
    Report,
    ReportedFinding,
    RunResult,
    ScanStats,
    Severity,
    TrendPoint,
)
from audits.trends import TrendRow, trend
from controlplane.audit_runs import checklist, records, repository, store
from controlplane.audit_runs.models import AuditRun
from controlplane.audit_runs.schemas import DiffOut, RunCreate, RunFindingOut, RunSource
from controlplane.audit_runs.validation import invalid
from controlplane.auth.scopes import Scope
from controlplane.config import Settings
from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.errors import NotFound
from controlplane.identity import repository as identity_repository
from controlplane.identity import service as identity
from controlplane.kit.clock import utcnow

# The longest preview a finding may carry, and the mark every redacted preview has.
MAX_PREVIEW = 16
REDACTION_MARK = "…"
MAX_TARGET = 500  # the stored column's width
REPORT_TREND_RUNS = 30
SCHEDULER = ("system", "audit scheduler")


def configured_paths(configured: Sequence[Path], requested: Sequence[str]) -> list[Path]:
    """The configured trees a request names; any other path is refused by name."""
    allowed = {path.resolve(): path for path in configured}
    chosen: list[Path] = []
    for index, given in enumerate(requested):
        path = allowed.get(Path(given).resolve())
        if path is None:
            raise invalid(f"body.paths[{index}]", f"{given} is not a configured audit path")
        chosen.append(path)
    return chosen


def attestations_of(ctx: Ctx, workspace_id: str) -> list[Attestation]:
    now = utcnow()
    return [
        Attestation(
            item_id=row.item_id,
            attested_by=row.attested_by,
            attested_at=row.attested_at,
            evidence=row.evidence,
            expires_at=row.expires_at,
        )
        for row in repository.list_attestations(ctx.session, workspace_id, unexpired_at=now)
    ]


def scheduled_workspace(ctx: Ctx) -> str | None:
    """Where scheduled runs are stored: `audit_workspace` (an id or a name), else the oldest
    workspace; None when it names none, or none exists yet."""
    # The identity repository, not its service: every service lookup authorizes a caller, and
    # the schedule has none.
    return identity_repository.resolve_workspace_id(ctx.session, ctx.app.settings.audit_workspace)


def scheduled_attestations(ctx: Ctx) -> list[Attestation]:
    """The unexpired attestations the scheduled run counts (those of its workspace)."""
    workspace_id = scheduled_workspace(ctx)
    return [] if workspace_id is None else attestations_of(ctx, workspace_id)


def server_request(settings: Settings, paths: list[Path], *, checklist: bool) -> AuditRequest:
    """A pass the control plane runs itself: its own cache and its configured checklist."""
    return AuditRequest(
        paths=paths,
        checklist=checklist,
        cache_dir=settings.home / "audit-cache",
        checklist_file=settings.audit_checklist_file or DEFAULT_CHECKLIST,
    )


def run_now(ctx: Ctx, workspace_id: str, body: RunCreate) -> AuditRun:
    paths = configured_paths(ctx.app.settings.audit_scan_paths, body.paths)
    if not paths and not body.checklist:
        raise invalid("body", "nothing to audit: name configured paths, the checklist, or both")
    with transaction(ctx.app.session_factory, read_only=True) as session:
        reading = dataclasses.replace(ctx, session=session)
        identity.workspace_for(reading, workspace_id, Scope.AUDIT_RUN)
        attestations = attestations_of(reading, workspace_id)
    try:
        result = execute(
            server_request(ctx.app.settings, paths, checklist=body.checklist),
            container=ctx.app,
            attestations=attestations,
        )
    except ConfigError as error:
        raise invalid("body.paths", str(error)) from None
    except ChecklistError as error:
        raise checklist.unavailable(error) from None
    # Again, in the transaction that writes: a scan can outlast the caller's membership.
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_RUN)
    return store.store(ctx, workspace_id, result, RunSource.API)


def import_run(ctx: Ctx, workspace_id: str, result: RunResult) -> AuditRun:
    """Store a run made elsewhere. A preview that could be a secret is refused, whole."""
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_RUN)
    if not 0 < len(result.target) <= MAX_TARGET:
        raise invalid("body.target", f"between 1 and {MAX_TARGET} characters")
    for index, finding in enumerate(result.findings):
        preview = finding.preview
        if preview is not None and (len(preview) > MAX_PREVIEW or REDACTION_MARK not in preview):
            # Named by place, never by value: the preview may be the very secret.
            raise invalid(
                f"body.findings[{index}].preview",
                f"not a redacted preview (at most {MAX_PREVIEW} characters with "
                f"{REDACTION_MARK!r}); finding {finding.fingerprint} at {finding.path}",
            )
    return store.store(ctx, workspace_id, result, RunSource.IMPORT)


def store_scheduled(ctx: Ctx, workspace_id: str, result: RunResult) -> AuditRun:
    """The scheduled job's run: no caller, so no authorization; the trail names the job."""
    return store.store(ctx, workspace_id, result, RunSource.SCHEDULE, actor=SCHEDULER)


def list_runs(
    ctx: Ctx, workspace_id: str, *, target: str | None, before: str | None, limit: int
) -> Sequence[AuditRun]:
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_READ)
    return repository.list_runs(
        ctx.session, workspace_id, target=target, before=before, limit=limit
    )


def get_run(ctx: Ctx, workspace_id: str, run_id: str) -> AuditRun:
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_READ)
    run = repository.get_run(ctx.session, workspace_id, run_id)
    if run is None:
        raise NotFound("audit run not found")
    return run


def run_findings(
    ctx: Ctx,
    workspace_id: str,
    run_id: str,
    *,
    status: str | None = None,
    severity: str | None = None,
    tool: str | None = None,
) -> list[RunFindingOut]:
    """What the run reported, fixed and suppressed findings included, most severe first."""
    run = get_run(ctx, workspace_id, run_id)
    found = [
        records.run_finding_out(link, row)
        for link, row in repository.run_findings(ctx.session, run.id)
    ]
    return sorted(
        (
            finding
            for finding in found
            if (status is None or finding.status == status)
            and (severity is None or finding.severity == severity)
            and (tool is None or finding.tool == tool)
        ),
        key=lambda finding: (finding.status == "fixed", *finding.sort_key()),
    )


def run_diff(ctx: Ctx, workspace_id: str, run_id: str, against: str | None) -> DiffOut:
    """From `against` (default: the target's run before this one) to this run."""
    run = get_run(ctx, workspace_id, run_id)
    base = (
        get_run(ctx, workspace_id, against)
        if against is not None
        else repository.latest_run(ctx.session, workspace_id, run.target, before=run.id)
    )
    older = [] if base is None else _reported(ctx, workspace_id, base.id)
    changes = diff(older, _reported(ctx, workspace_id, run.id))
    return DiffOut(
        run_id=run.id,
        against=base.id if base is not None else None,
        introduced=changes.introduced,
        resolved=changes.resolved,
        unchanged=changes.unchanged,
    )


def _reported(ctx: Ctx, workspace_id: str, run_id: str) -> list[ReportedFinding]:
    return [records.reported(finding) for finding in run_findings(ctx, workspace_id, run_id)]


def report(ctx: Ctx, workspace_id: str, run_id: str) -> Report:
    """The run as every report format renders it, with the trend of its target's last runs."""
    run = get_run(ctx, workspace_id, run_id)
    return Report(
        run_id=run.id,
        target=run.target,
        started_at=run.started_at,
        finished_at=run.finished_at,
        tool_versions=dict(run.tool_versions),
        findings=_reported(ctx, workspace_id, run.id),
        checks=[
            CheckResult.model_validate(row.result)
            for row in repository.check_results(ctx.session, run.id)
        ],
        stats=ScanStats.model_validate(run.stats),
        trend=_trend(ctx, workspace_id, target=run.target, up_to=run.id, limit=REPORT_TREND_RUNS),
    )


def trends(ctx: Ctx, workspace_id: str, *, target: str | None, limit: int) -> list[TrendPoint]:
    identity.workspace_for(ctx, workspace_id, Scope.AUDIT_READ)
    return _trend(ctx, workspace_id, target=target, up_to=None, limit=limit)


def _trend(
    ctx: Ctx, workspace_id: str, *, target: str | None, up_to: str | None, limit: int
) -> list[TrendPoint]:
    rows = repository.trend_rows(ctx.session, workspace_id, target=target, up_to=up_to, limit=limit)
    return trend(
        TrendRow(
            run_id=run_id,
            started_at=started_at,
            fingerprint=fingerprint,
            status=FindingStatus(status) if status else None,
            severity=Severity(severity) if severity else None,
            category=Category(category) if category else None,
        )
        for run_id, started_at, fingerprint, status, severity, category in rows
    )
