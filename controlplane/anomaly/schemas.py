"""Alerts, suppressions and scans as the API takes and returns them."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from controlplane.kit.schemas import RequestModel, ResponseModel

AlertStatus = Literal["open", "acknowledged", "resolved", "false_positive"]
SeverityName = Literal["low", "medium", "high", "critical"]
Note = Annotated[str | None, Field(max_length=2_000)]


class AlertOut(ResponseModel):
    id: str
    detector: str
    severity: SeverityName
    entity_type: str
    entity: str
    workspace_id: str | None
    agent_id: str | None
    token_accessor: str | None
    window_start: datetime
    window_end: datetime
    score: float
    evidence_count: int
    explanation: str
    status: AlertStatus
    status_changed_at: datetime | None
    status_changed_by: str | None
    note: str | None
    response: dict[str, Any] | None = Field(
        description="What Gatehouse did on its own, e.g. "
        '{"action": "token_suspended", "tokens": [...], "at": ...}.'
    )
    first_seen_at: datetime
    last_seen_at: datetime


class AlertDetail(AlertOut):
    evidence: list[dict[str, Any]] = Field(
        description="The access-log records behind the alert (at most the configured number), "
        "each with its `seq`."
    )


class AlertAction(RequestModel):
    note: Note = None


class FalsePositive(RequestModel):
    note: Note = None
    suppress_for_seconds: Annotated[int, Field(ge=60)] = Field(
        default=7 * 86_400,
        description="How long this detector stays quiet for this entity (default 7 days; at "
        "most GATEHOUSE_ANOMALY_SUPPRESSION_MAX_DAYS).",
    )
    resume_tokens: bool = Field(
        default=False, description="Also resume the tokens this alert's response suspended."
    )


class SuppressionOut(ResponseModel):
    id: str
    detector: str
    entity_type: str
    entity: str
    workspace_id: str | None
    alert_id: str
    reason: str | None
    created_by: str
    created_at: datetime
    until: datetime


class ScanOut(ResponseModel):
    events: int
    after_seq: int
    through_seq: int
    alerts_opened: int
    alerts_updated: int
    batches: int
