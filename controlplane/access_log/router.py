"""The access log over HTTP: read-only, filtered, paginated by seq."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from controlplane.access_log import service
from controlplane.access_log.records import Decision
from controlplane.access_log.schemas import AccessRecordOut
from controlplane.http.deps import AccessLogRead
from controlplane.kit.schemas import Page, PageLimit

router = APIRouter(prefix="/v1", tags=["access-log"])


@router.get("/access-log", response_model=Page[AccessRecordOut])
def list_access_log(
    ctx: AccessLogRead,
    workspace_id: str | None = None,
    token: Annotated[str | None, Query(description="A token's accessor (acc_…).")] = None,
    agent_id: str | None = None,
    status: int | None = None,
    decision: Decision | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> Page[AccessRecordOut]:
    rows = service.list_records(
        ctx,
        workspace_id=workspace_id,
        token_accessor=token,
        agent_id=agent_id,
        status=status,
        decision=decision,
        since=since,
        until=until,
        after=cursor,
        limit=limit,
    )
    return Page[AccessRecordOut](
        items=[AccessRecordOut.model_validate(row) for row in rows],
        next_cursor=str(rows[-1].seq) if len(rows) == limit else None,
    )
