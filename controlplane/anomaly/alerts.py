"""Storing what the detectors found: one alert per (detector, entity, window), false-positive
verdicts honoured, the workspace's automatic response applied, and new alerts announced.

A later scan that sees more of a window updates its alert (score, evidence, and severity, which
only rises) and never reopens one that people already closed.
"""

from collections.abc import Sequence
from typing import Any

from controlplane.access_log.records import iso
from controlplane.anomaly import notify, repository
from controlplane.anomaly.detection import Alert, Severity
from controlplane.anomaly.models import AnomalyAlert
from controlplane.context import Ctx
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.policies import service as policies
from controlplane.tokens import service as tokens

# The actor the admin audit trail names for what the detectors do on their own.
ACTOR = "anomaly-detector"


def record(ctx: Ctx, found: Sequence[Alert]) -> tuple[int, int]:
    """Store `found`; returns (opened, updated)."""
    now = utcnow()
    suppressed = repository.active_suppressions(ctx.session, now)
    # One per key: the last a scan reports for a key is its fullest view of that window.
    latest = {alert.key(): alert for alert in found}
    wanted = {
        key: alert
        for key, alert in latest.items()
        if (alert.detector, alert.entity_type.value, alert.entity) not in suppressed
    }
    stored = repository.alerts_by_key(ctx.session, wanted.keys())
    opened: list[AnomalyAlert] = []
    escalated: list[AnomalyAlert] = []
    for key, alert in wanted.items():
        row = stored.get(key)
        if row is None:
            row = _new_row(alert)
            repository.add(ctx.session, row)
            opened.append(row)
        elif _update(row, alert):
            escalated.append(row)
        row.last_seen_at = now
    ctx.session.flush()
    for row in (*opened, *escalated):
        _respond(ctx, row)
    notify.announce(ctx, opened, escalated)
    return len(opened), len(wanted) - len(opened)


def _new_row(alert: Alert) -> AnomalyAlert:
    return AnomalyAlert(
        id=new_id("alr"),
        detector=alert.detector,
        severity=alert.severity.value,
        entity_type=alert.entity_type.value,
        entity=alert.entity,
        workspace_id=alert.workspace_id,
        agent_id=_common(alert.evidence, "agent_id"),
        token_accessor=alert.token_accessor,
        window_start=alert.window_start,
        window_end=alert.window_end,
        score=alert.score,
        evidence_count=alert.evidence_count,
        explanation=alert.explanation,
        evidence=list(alert.evidence),
        status="open",
    )


def _update(row: AnomalyAlert, alert: Alert) -> bool:
    """Take the later view of the window; True when the severity rose (it never falls)."""
    rose = alert.severity.rank > Severity(row.severity).rank
    if rose:
        row.severity = alert.severity.value
    row.score = max(row.score, alert.score)
    row.evidence_count = max(row.evidence_count, alert.evidence_count)
    row.explanation = alert.explanation
    row.evidence = list(alert.evidence)
    row.window_end = alert.window_end
    return rose


def _common(evidence: Sequence[dict[str, Any]], field: str) -> str | None:
    values = {row.get(field) for row in evidence}
    return next(iter(values)) if len(values) == 1 else None


def _respond(ctx: Ctx, row: AnomalyAlert) -> None:
    """A critical alert about one token, in a workspace whose policy opted in: suspend it."""
    if (
        row.severity != Severity.CRITICAL.value
        or row.token_accessor is None
        or row.workspace_id is None
        or row.response is not None
        or not policies.auto_suspend_enabled(ctx.session, row.workspace_id)
    ):
        return
    suspended = tokens.suspend_automatically(
        ctx,
        row.token_accessor,
        f"anomaly alert {row.id}: {row.detector} ({row.explanation})"[:500],
        actor_id=ACTOR,
    )
    if suspended:
        row.response = {
            "action": "token_suspended",
            "tokens": suspended,
            "at": iso(utcnow()),
            "undo": f"gatehouse tokens resume {row.token_accessor}",
        }
