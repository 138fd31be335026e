"""The admin audit trail over HTTP: read-only, paginated by cursor."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from controlplane.audit_events import service
from controlplane.audit_events.schemas import AuditEventOut
from controlplane.http.deps import AuditRead
from controlplane.kit.pagination import next_cursor
from controlplane.kit.schemas import Page, PageLimit

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit-events", response_model=Page[AuditEventOut])
def list_audit_events(
    ctx: AuditRead,
    workspace_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> Page[AuditEventOut]:
    rows = service.list_events(
        ctx,
        workspace_id=workspace_id,
        action=action,
        since=since,
        until=until,
        after=cursor,
        limit=limit,
    )
    return Page[AuditEventOut](
        items=[AuditEventOut.model_validate(row) for row in rows],
        next_cursor=next_cursor(rows, limit),
    )
