"""Reading and judging alerts. Who sees an alert is who reads its workspace's access log; who
acts on it holds audit:run there. Alerts no workspace can be named for (failures with unknown
tokens) are for instance admins, as those access-log records are.

Services never commit: the request owns the transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controlplane.anomaly import repository
from controlplane.anomaly.detection import Severity
from controlplane.anomaly.models import AnomalyAlert, AnomalySuppression
from controlplane.anomaly.repository import AlertFilter
from controlplane.anomaly.schemas import FalsePositive
from controlplane.audit_events import service as audit
from controlplane.auth.policy import Resource, authorize, is_instance_admin, workspaces_granting
from controlplane.auth.scopes import Scope
from controlplane.context import Ctx
from controlplane.errors import Conflict, NotFound, ValidationFailed
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.tokens import service as tokens

# Which statuses each verdict may follow.
_FROM = {
    "acknowledged": {"open"},
    "resolved": {"open", "acknowledged"},
    "false_positive": {"open", "acknowledged", "resolved"},
}
_ACTIONS = {"acknowledged": "ack", "resolved": "resolve", "false_positive": "false_positive"}


@dataclass(frozen=True)
class AlertQuery:
    workspace_id: str | None = None
    status: str | None = None
    min_severity: str | None = None
    detector: str | None = None
    entity: str | None = None
    since: datetime | None = None


def list_alerts(
    ctx: Ctx, query: AlertQuery, *, before: str | None, limit: int
) -> Sequence[AnomalyAlert]:
    principal = ctx.require_principal()
    if query.workspace_id is not None:
        authorize(principal, Scope.ACCESS_LOG_READ, Resource("workspace", query.workspace_id))
        readable = [query.workspace_id]
    else:
        readable = workspaces_granting(principal, Scope.ACCESS_LOG_READ)
    severities = None
    if query.min_severity is not None:
        floor = Severity(query.min_severity).rank
        severities = [severity.value for severity in Severity if severity.rank >= floor]
    where = AlertFilter(
        workspace_ids=readable,
        include_unscoped=query.workspace_id is None and is_instance_admin(principal),
        # An agent-bound token sees its own agent's alerts only, as it sees its own traffic.
        agent_id=principal.token.agent_id if principal.token is not None else None,
        status=query.status,
        severities=severities,
        detector=query.detector,
        entity=query.entity,
        since=query.since,
    )
    return repository.list_alerts(ctx.session, where, before=before, limit=limit)


def get_alert(ctx: Ctx, alert_id: str) -> AnomalyAlert:
    return _visible(ctx, alert_id, Scope.ACCESS_LOG_READ)


def acknowledge(ctx: Ctx, alert_id: str, note: str | None) -> AnomalyAlert:
    return _judge(ctx, alert_id, "acknowledged", note)


def resolve(ctx: Ctx, alert_id: str, note: str | None) -> AnomalyAlert:
    return _judge(ctx, alert_id, "resolved", note)


def false_positive(ctx: Ctx, alert_id: str, body: FalsePositive) -> AnomalyAlert:
    """Judge it a false positive, and keep its detector quiet for its entity for a while."""
    limit = ctx.app.settings.anomaly_suppression_max_days
    if body.suppress_for_seconds > limit * 86_400:
        raise ValidationFailed(
            f"suppress_for_seconds may be at most {limit} days ({limit * 86_400})"
        )
    alert = _judge(ctx, alert_id, "false_positive", body.note)
    now = utcnow()
    suppression = AnomalySuppression(
        id=new_id("sup"),
        detector=alert.detector,
        entity_type=alert.entity_type,
        entity=alert.entity,
        workspace_id=alert.workspace_id,
        alert_id=alert.id,
        reason=body.note,
        created_by=ctx.require_principal().actor_id,
        created_at=now,
        until=now + timedelta(seconds=body.suppress_for_seconds),
    )
    repository.add(ctx.session, suppression)
    if body.resume_tokens and alert.response is not None:
        resumed = tokens.resume(ctx, str(alert.response["tokens"][0]))
        alert.response = {**alert.response, "resumed": resumed, "resumed_at": now.isoformat()}
    return alert


def list_suppressions(ctx: Ctx) -> Sequence[AnomalySuppression]:
    principal = ctx.require_principal()
    return repository.list_suppressions(
        ctx.session,
        workspaces_granting(principal, Scope.ACCESS_LOG_READ),
        include_unscoped=is_instance_admin(principal),
        now=utcnow(),
    )


def _judge(ctx: Ctx, alert_id: str, status: str, note: str | None) -> AnomalyAlert:
    alert = _visible(ctx, alert_id, Scope.AUDIT_RUN, lock=True)
    if alert.status not in _FROM[status]:
        raise Conflict(f"alert {alert.id} is {alert.status}; it cannot become {status}")
    principal = ctx.require_principal()
    alert.status = status
    alert.status_changed_at = utcnow()
    alert.status_changed_by = principal.actor_id
    alert.note = note if note is not None else alert.note
    audit.record(
        ctx,
        f"anomaly.alert.{_ACTIONS[status]}",
        target_type="anomaly_alert",
        target_id=alert.id,
        workspace_id=alert.workspace_id,
        details={"detector": alert.detector, "entity": alert.entity, "note": note},
    )
    ctx.session.flush()
    return alert


def _visible(ctx: Ctx, alert_id: str, action: Scope, *, lock: bool = False) -> AnomalyAlert:
    principal = ctx.require_principal()
    alert = repository.get_alert(ctx.session, alert_id, lock=lock)
    if alert is None:
        raise NotFound("alert not found")
    if alert.workspace_id is None:
        if not is_instance_admin(principal):
            raise NotFound("alert not found")
        return alert
    authorize(principal, action, Resource("alert", alert.workspace_id, alert.agent_id))
    return alert
