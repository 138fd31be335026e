"""Announcing new alerts, once their scan has committed (a scan that lost its race or rolled
back announces nothing): a signed webhook with every alert at or above the configured severity,
and a Sentry event for each when Sentry is on. Evidence rows stay in Gatehouse; the payload
carries the alert's summary, its counts and where to read the rest."""

from collections.abc import Sequence
from typing import Any

import sentry_sdk

from controlplane.access_log.records import iso
from controlplane.anomaly.detection import Severity
from controlplane.anomaly.models import AnomalyAlert
from controlplane.context import Ctx
from controlplane.db import after_commit
from controlplane.kit.webhooks import WebhookTarget, deliver_in_background

EVENT = "anomaly.alerts"


def announce(ctx: Ctx, opened: Sequence[AnomalyAlert], escalated: Sequence[AnomalyAlert]) -> None:
    settings = ctx.app.settings
    floor = Severity(settings.anomaly_notify_min_severity).rank
    alerts = [
        summary(row, "escalated" if row in escalated else "opened")
        for row in (*opened, *escalated)
        if Severity(row.severity).rank >= floor
    ]
    if not alerts:
        return
    target = None
    if settings.anomaly_webhook_url and settings.anomaly_webhook_secret is not None:
        target = WebhookTarget(settings.anomaly_webhook_url, settings.anomaly_webhook_secret)
    after_commit(ctx.session, lambda: _send(target, alerts))


def summary(row: AnomalyAlert, change: str) -> dict[str, Any]:
    return {
        "change": change,
        "id": row.id,
        "detector": row.detector,
        "severity": row.severity,
        "entity_type": row.entity_type,
        "entity": row.entity,
        "workspace_id": row.workspace_id,
        "window_start": iso(row.window_start),
        "window_end": iso(row.window_end),
        "score": round(row.score, 3),
        "evidence_count": row.evidence_count,
        "explanation": row.explanation,
        "response": row.response,
        "read": f"/v1/anomaly/alerts/{row.id}",
    }


def _send(target: WebhookTarget | None, alerts: list[dict[str, Any]]) -> None:
    if target is not None:
        deliver_in_background(target, EVENT, {"alerts": alerts})
    # Without an initialised client (no DSN) capture_message is a no-op.
    for alert in alerts:
        with sentry_sdk.new_scope() as scope:
            scope.set_tag("anomaly.detector", alert["detector"])
            scope.set_tag("anomaly.severity", alert["severity"])
            scope.set_context("anomaly", alert)
            sentry_sdk.capture_message(
                f"anomaly {alert['severity']}: {alert['detector']} on {alert['entity_type']} "
                f"{alert['entity']}",
                level="error" if alert["severity"] in ("high", "critical") else "warning",
            )
