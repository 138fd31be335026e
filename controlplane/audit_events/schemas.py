"""The audit event as clients and exports see it."""

from datetime import datetime
from typing import Any

from controlplane.kit.schemas import ResponseModel


class AuditEventOut(ResponseModel):
    id: str
    ts: datetime
    actor_type: str
    actor_id: str | None
    action: str
    outcome: str
    target_type: str
    target_id: str | None
    workspace_id: str | None
    client_ip: str | None
    request_id: str | None
    details: dict[str, Any]
