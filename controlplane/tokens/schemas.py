"""Request and response shapes for scoped tokens. The secret appears in one response only."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from controlplane.kit.schemas import Description, Networks, RequestModel, ResponseModel
from controlplane.tokens.state import TokenState


class TokenCreate(RequestModel):
    scopes: Annotated[list[str], Field(min_length=1, max_length=32)]
    agent_id: str | None = None
    ttl_seconds: Annotated[int, Field(ge=60)] | None = None
    description: Description = ""
    use_limit: Annotated[int, Field(ge=1)] | None = None
    cidrs: Annotated[Networks, Field(default_factory=list)]
    parent_accessor: str | None = None


class TokenRotate(RequestModel):
    overlap_seconds: Annotated[int, Field(ge=0, le=7 * 86_400)] | None = None


class TokenRevoke(RequestModel):
    reason: Annotated[str, Field(max_length=500)] = ""


class TokenSuspend(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class TokenOut(ResponseModel):
    accessor: str
    workspace_id: str | None
    agent_id: str | None
    scopes: list[str]
    description: str
    created_by: str
    parent_accessor: str | None = None
    created_at: datetime
    expires_at: datetime
    use_limit: int | None
    use_count: int
    cidrs: list[str]
    last_used_at: datetime | None
    last_used_ip: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    revocation_reason: str | None
    suspended_at: datetime | None
    suspended_by: str | None
    suspension_reason: str | None


class TokenIssued(TokenOut):
    token: str = Field(description="The secret. Shown once, here; store it now.")


class TokenRevoked(ResponseModel):
    accessor: str
    revoked: list[str] = Field(description="Accessors revoked: the token and its descendants.")


class TokenSuspended(ResponseModel):
    accessor: str
    suspended: list[str] = Field(
        description="Accessors suspended: the token first, then its live descendants."
    )


class TokenResumed(ResponseModel):
    accessor: str
    resumed: list[str] = Field(
        description="Accessors resumed: the token first, then the descendants its suspension "
        "suspended."
    )


LeakStatus = TokenState | Literal["unknown"]


class LeakCheck(RequestModel):
    # Not stripped: the answer names each token by the SHA-256 of exactly what was sent.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    tokens: Annotated[list[str], Field(max_length=100)]
    revoke: bool = False


class LeakResult(ResponseModel):
    token_sha256: str = Field(description="SHA-256 (hex) of the token as sent: never the token.")
    status: LeakStatus
    accessor: str | None
    revoked_now: bool


class LeakCheckResults(ResponseModel):
    results: list[LeakResult] = Field(description="One per token, in the request's order.")
