"""Announcing a run that introduces a high or critical finding: one signed webhook, sent once the
run is committed (a rolled-back run announces nothing). The payload names findings by their
fingerprint, rule, severity and place, never by their content: no preview, no message."""

from typing import Any

from audits.model import FindingStatus, ReportedFinding, Severity
from controlplane.audit_runs.models import AuditRun
from controlplane.context import Ctx
from controlplane.db import after_commit
from controlplane.kit.webhooks import WebhookTarget, deliver_in_background

EVENT = "audit.findings.new"
# A run could introduce thousands; the receiver gets the most severe and the total.
MAX_LISTED = 100


def announce_new_severe(ctx: Ctx, run: AuditRun, reported: list[ReportedFinding]) -> None:
    settings = ctx.app.settings
    if not settings.audit_webhook_url or settings.audit_webhook_secret is None:
        return
    severe = sorted(
        (
            finding
            for finding in reported
            if finding.status is FindingStatus.NEW and finding.severity.at_least(Severity.HIGH)
        ),
        key=ReportedFinding.sort_key,
    )
    if not severe:
        return
    target = WebhookTarget(settings.audit_webhook_url, settings.audit_webhook_secret)
    data = payload(run, severe)
    after_commit(ctx.session, lambda: _send(target, data))


def payload(run: AuditRun, severe: list[ReportedFinding]) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "workspace_id": run.workspace_id,
        "target": run.target,
        "source": run.source,
        "counts": run.counts,
        "new_high_or_critical": len(severe),
        "findings": [
            {
                "fingerprint": finding.fingerprint,
                "rule": finding.rule,
                "severity": finding.severity.value,
                "path": finding.path,
                "line": finding.line,
            }
            for finding in severe[:MAX_LISTED]
        ],
    }


def _send(target: WebhookTarget, data: dict[str, Any]) -> None:
    deliver_in_background(target, EVENT, data)
