"""Storing a finished run: the lifecycle against the target's previous run, then the rows.

`previous` is what the target's previous run found present; the suppressions are the
workspace's own (unrevoked; expired ones are ignored by the lifecycle) and the scanned tree's
(`RunResult.suppressions`); failed checks become findings like any other. Every finding's
current state moves forward in the same transaction that records the run.
"""

from collections import Counter
from collections.abc import Iterable

from audits.lifecycle import checks_as_findings, classify
from audits.model import FindingStatus, ReportedFinding, RunResult
from controlplane.audit_events import service as audit
from controlplane.audit_runs import notify, records, repository
from controlplane.audit_runs.models import AuditCheckResult, AuditFinding, AuditRun, AuditRunFinding
from controlplane.audit_runs.schemas import RunSource
from controlplane.context import Ctx
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id

_PRESENT_UNSUPPRESSED = (FindingStatus.NEW, FindingStatus.OPEN)


def store(
    ctx: Ctx,
    workspace_id: str,
    result: RunResult,
    source: RunSource,
    *,
    actor: tuple[str, str] | None = None,
) -> AuditRun:
    """Classify and store `result`; `actor` (type, id) names a caller without a principal."""
    session = ctx.session
    now = utcnow()
    repository.lock_target(session, workspace_id, result.target)
    previous_run = repository.latest_run(session, workspace_id, result.target)
    previous = (
        []
        if previous_run is None
        else [
            records.sighting_of(link, row)
            for link, row in repository.run_findings(session, previous_run.id)
            if link.status != FindingStatus.FIXED
        ]
    )
    # One result per item: a check reported twice counts, and is stored, once.
    checks = list({check.item_id: check for check in result.checks}.values())
    current = result.findings + checks_as_findings(checks)
    known = repository.findings_of_target(
        session,
        workspace_id,
        result.target,
        {finding.fingerprint for finding in [*current, *previous]},
    )
    suppressions = [
        records.suppression_of(row)
        for row in repository.list_suppressions(session, workspace_id, include_revoked=False)
    ]
    reported = classify(
        current,
        previous,
        suppressions + result.suppressions,
        first_seen={fingerprint: row.first_seen_at for fingerprint, row in known.items()},
        now=now,
    )
    run = AuditRun(
        id=new_id("aud"),
        workspace_id=workspace_id,
        target=result.target,
        source=source.value,
        started_at=result.started_at,
        finished_at=result.finished_at,
        stored_at=now,
        stored_by=actor[1] if actor else ctx.require_principal().actor_id,
        tool_versions=dict(result.tool_versions),
        stats=result.stats.model_dump(mode="json"),
        counts=_counts(reported, (check.status.value for check in checks)),
        file_suppressions=[s.model_dump(mode="json") for s in result.suppressions],
    )
    repository.add(session, run)
    findings, sightings = _advance(workspace_id, run, reported, known)
    repository.add(session, *findings)  # before the sightings that refer to them
    repository.add(session, *sightings)
    repository.add(
        session,
        *(
            AuditCheckResult(
                run_id=run.id,
                item_id=check.item_id,
                workspace_id=workspace_id,
                status=check.status.value,
                result=check.model_dump(mode="json"),
            )
            for check in checks
        ),
    )
    audit.record(
        ctx,
        "audit.run.store",
        target_type="audit_run",
        target_id=run.id,
        workspace_id=workspace_id,
        details={"target": run.target, "source": run.source, "counts": run.counts},
        actor_type=actor[0] if actor else None,
        actor_id=actor[1] if actor else None,
    )
    notify.announce_new_severe(ctx, run, reported)
    return run


def _advance(
    workspace_id: str,
    run: AuditRun,
    reported: list[ReportedFinding],
    known: dict[str, AuditFinding],
) -> tuple[list[AuditFinding], list[AuditRunFinding]]:
    """Each finding's current state, moved to this run, and this run's sighting of it."""
    rows: list[AuditFinding] = []
    sightings: list[AuditRunFinding] = []
    for finding in reported:
        row = known.get(finding.fingerprint)
        if row is None:
            row = AuditFinding(
                id=new_id("afd"),
                workspace_id=workspace_id,
                target=run.target,
                fingerprint=finding.fingerprint,
                first_seen_at=finding.first_seen_at or run.stored_at,
                first_seen_run_id=run.id,
            )
            known[finding.fingerprint] = row
        row.last_run_id = run.id
        if finding.status is FindingStatus.FIXED:
            row.status = FindingStatus.FIXED.value
        else:
            records.fill_row(row, finding)
            row.status = _unsuppressed_status(finding, row, run).value
            row.last_line, row.last_seen_at = finding.line, run.stored_at
        rows.append(row)
        sightings.append(
            AuditRunFinding(
                run_id=run.id,
                finding_id=row.id,
                status=finding.status.value,
                line=finding.line,
                commits=list(finding.commits),
                liveness=finding.liveness,
                suppression=(
                    finding.suppression.model_dump(mode="json") if finding.suppression else None
                ),
            )
        )
    return rows, sightings


def _unsuppressed_status(
    finding: ReportedFinding, row: AuditFinding, run: AuditRun
) -> FindingStatus:
    """The status before suppressions, which are applied when a finding is read: a suppressed
    finding was seen before exactly when its row is older than this run (the lifecycle's rule)."""
    if finding.status is not FindingStatus.SUPPRESSED:
        return finding.status
    return FindingStatus.NEW if row.first_seen_run_id == run.id else FindingStatus.OPEN


def _counts(
    reported: list[ReportedFinding], check_statuses: Iterable[str]
) -> dict[str, dict[str, int]]:
    return {
        "status": dict(Counter(finding.status.value for finding in reported)),
        "severity": dict(
            Counter(
                finding.severity.value
                for finding in reported
                if finding.status in _PRESENT_UNSUPPRESSED
            )
        ),
        "checks": dict(Counter(check_statuses)),
    }
