"""An agent's runtime settings over the API: provider, model, parameters, instructions."""

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# The providers the runtime has adapters for; "local" needs no network and no key.
Provider = Literal["local", "openai", "openai-responses", "anthropic", "openrouter"]
# The runtime sets these itself; a parameter must not override the conversation.
RESERVED_PARAMETERS = frozenset(
    {"model", "messages", "input", "stream", "stream_options", "tools", "system"}
)
MAX_PARAMETERS_BYTES = 4_096


class AgentRuntimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    model: str = Field(min_length=1, max_length=200)
    # Passed to the provider as-is (temperature, max_tokens, ...); `pacing_ms` for local.
    parameters: dict[str, Any] = Field(default_factory=dict)
    instructions: str | None = Field(default=None, max_length=20_000)

    @field_validator("parameters")
    @classmethod
    def _no_reserved_and_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted(RESERVED_PARAMETERS.intersection(value))
        if reserved:
            raise ValueError(f"set by the runtime, not a parameter: {', '.join(reserved)}")
        if len(json.dumps(value)) > MAX_PARAMETERS_BYTES:
            raise ValueError(f"must be at most {MAX_PARAMETERS_BYTES} bytes as JSON")
        return value


class AgentRuntimeOut(BaseModel):
    agent_id: str
    workspace_id: str
    provider: str
    model: str
    parameters: dict[str, Any]
    instructions: str | None
    configured: bool  # false: the defaults, never set
    updated_at: datetime | None
