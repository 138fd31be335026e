"""What `GET /v1/runtime/status` and `gatehouse runtime status` report."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

RuntimeState = Literal["up", "degraded", "down"]


class RuntimeStatus(BaseModel):
    state: RuntimeState = Field(
        description="up: the last health check passed; degraded: alive but the last check "
        "failed, or restarted within the last minute; down: not running, not healthy yet, or "
        "waiting to be restarted."
    )
    managed: bool = Field(description="Whether this control plane runs the runtime as a child.")
    url: str
    pid: int | None = None
    restarts: int = 0
    version: str | None = None
    uptime_seconds: float | None = Field(
        default=None, description="Since the current runtime process first answered healthy."
    )
    last_error: str | None = None
    last_exit_code: int | None = None
    last_check_at: datetime | None = None
    workers: int
