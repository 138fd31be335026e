"""The access record as the API returns it: the record's fields plus its place in the chain."""

from datetime import datetime

from controlplane.kit.schemas import ResponseModel


class AccessRecordOut(ResponseModel):
    seq: int
    ts: datetime
    request_id: str
    token_accessor: str | None
    workspace_id: str | None
    agent_id: str | None
    user_id: str | None
    client_ip: str | None
    user_agent: str | None
    method: str
    upstream: str | None
    path: str
    model: str | None
    status: int
    decision: str
    reason: str | None
    latency_ms: float
    ttfb_ms: float | None
    bytes_in: int
    bytes_out: int
    tokens_in: int | None
    tokens_out: int | None
    streamed: bool
    error: str | None
