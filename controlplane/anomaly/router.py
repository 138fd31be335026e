"""Anomaly alerts over HTTP: read with access-log:read, judged with audit:run."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from controlplane.anomaly import scanning, service
from controlplane.anomaly.schemas import (
    AlertAction,
    AlertDetail,
    AlertOut,
    AlertStatus,
    FalsePositive,
    ScanOut,
    SeverityName,
    SuppressionOut,
)
from controlplane.anomaly.service import AlertQuery
from controlplane.http.deps import AccessLogRead, AuditRun, UsersWrite
from controlplane.kit.schemas import Page, PageLimit

router = APIRouter(prefix="/v1/anomaly", tags=["anomaly"])


@router.get("/alerts", response_model=Page[AlertOut])
def list_alerts(
    ctx: AccessLogRead,
    workspace_id: str | None = None,
    status: AlertStatus | None = None,
    severity: Annotated[SeverityName | None, Query(description="This severity and above.")] = None,
    detector: str | None = None,
    entity: str | None = None,
    since: Annotated[datetime | None, Query(description="Windows ending after this.")] = None,
    cursor: str | None = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> Page[AlertOut]:
    query = AlertQuery(workspace_id, status, severity, detector, entity, since)
    rows = service.list_alerts(ctx, query, before=cursor, limit=limit)
    return Page[AlertOut](
        items=[AlertOut.model_validate(row) for row in rows],
        next_cursor=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: str, ctx: AccessLogRead) -> AlertDetail:
    return AlertDetail.model_validate(service.get_alert(ctx, alert_id))


@router.post("/alerts/{alert_id}/ack", response_model=AlertOut)
def acknowledge_alert(alert_id: str, ctx: AuditRun, body: AlertAction | None = None) -> AlertOut:
    note = body.note if body is not None else None
    return AlertOut.model_validate(service.acknowledge(ctx, alert_id, note))


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve_alert(alert_id: str, ctx: AuditRun, body: AlertAction | None = None) -> AlertOut:
    note = body.note if body is not None else None
    return AlertOut.model_validate(service.resolve(ctx, alert_id, note))


@router.post("/alerts/{alert_id}/false-positive", response_model=AlertOut)
def mark_false_positive(
    alert_id: str, ctx: AuditRun, body: FalsePositive | None = None
) -> AlertOut:
    return AlertOut.model_validate(
        service.false_positive(ctx, alert_id, body if body is not None else FalsePositive())
    )


@router.get("/suppressions", response_model=list[SuppressionOut])
def list_suppressions(ctx: AccessLogRead) -> list[SuppressionOut]:
    return [SuppressionOut.model_validate(row) for row in service.list_suppressions(ctx)]


@router.post("/scan", response_model=ScanOut)
def scan_now(ctx: UsersWrite) -> ScanOut:
    """Scan the new access-log rows now, as the scheduled job does (instance admins: the scan
    covers every workspace's traffic)."""
    outcome = scanning.scan_backlog(ctx.app)
    batches = outcome.batches
    return ScanOut(
        events=outcome.events,
        after_seq=batches[0].after_seq if batches else 0,
        through_seq=batches[-1].through_seq if batches else 0,
        alerts_opened=sum(batch.opened for batch in batches),
        alerts_updated=sum(batch.updated for batch in batches),
        batches=len(batches),
    )
