"""Request and response shapes for proxy policy. A field left out (or null) sets no rule."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from controlplane.kit.schemas import Networks, RequestModel, ResponseModel

Upstream = Literal["openai", "anthropic", "openrouter", "runtime"]
InvokeScope = Literal["proxy:invoke", "runtime:invoke"]
Glob = Annotated[str, Field(min_length=1, max_length=200)]
PerMinute = Annotated[int, Field(ge=1, le=100_000_000)]


class PolicyRules(RequestModel):
    # A list rule is null (no rule) or names at least one entry: an empty list would read as
    # "no rule" to some (a token's `cidrs: []` is unrestricted) and "allow nothing" to others.
    upstreams: Annotated[list[Upstream], Field(min_length=1, max_length=8)] | None = None
    models: Annotated[list[Glob], Field(min_length=1, max_length=100)] | None = None
    required_scope: InvokeScope | None = None
    token_rpm: PerMinute | None = None
    token_tpm: PerMinute | None = None
    workspace_rpm: PerMinute | None = None
    workspace_tpm: PerMinute | None = None
    # Also capped by the instance ceiling (checked in the service); this bound is the column's,
    # so that a ceiling configured above 2 GiB cannot turn a PUT into an INTEGER overflow.
    max_body_bytes: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    max_streams_per_token: Annotated[int, Field(ge=1, le=100_000)] | None = None
    cidrs: Annotated[Networks, Field(min_length=1)] | None = None
    # Not a proxy rule: whether anomaly detection may suspend this workspace's tokens by itself
    # (a critical alert about one token). Workspace policy only; an agent's override refuses true.
    anomaly_auto_suspend: bool = False


class EffectivePolicyOut(ResponseModel):
    """What the proxy applies to this agent: its override over the workspace default."""

    workspace_id: str
    agent_id: str | None
    upstreams: list[str] | None
    models: list[str] | None
    required_scope: str | None
    token_rpm: int | None
    token_tpm: int | None
    workspace_rpm: int | None
    workspace_tpm: int | None
    max_body_bytes: int | None
    max_streams_per_token: int | None
    cidrs: list[str] | None


class PolicyOut(EffectivePolicyOut):
    """One stored policy; never set yet, it shows no rules and no timestamps."""

    anomaly_auto_suspend: bool
    created_at: datetime | None
    updated_at: datetime | None

    @field_validator("anomaly_auto_suspend", mode="before")
    @classmethod
    def _unset_is_off(cls, value: object) -> object:
        # NULL: a policy never set, an agent's override, or a row older than the setting.
        return False if value is None else value
