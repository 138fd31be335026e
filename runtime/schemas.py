"""The runtime API's request and response bodies. Paths and field names are a fixed contract
shared with the control plane, the CLI and the client."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runtime.conversation import Message, ToolSpec

# Generous bounds: a conversation's history travels in every request, but not without limit.
MAX_MESSAGES = 1_000
MAX_TOOLS = 128
MAX_TOOL_RESULT_CHARS = 1_000_000

AgentRef = Annotated[str, Field(min_length=1, max_length=200)]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # An agent id or an agent name within the credential's workspace; defaults to the agent
    # the credential is bound to.
    agent_id: AgentRef | None = None
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    tools: list[ToolSpec] = Field(default_factory=list, max_length=MAX_TOOLS)
    stream: bool = True

    @field_validator("tools")
    @classmethod
    def _unique_tool_names(cls, tools: list[ToolSpec]) -> list[ToolSpec]:
        names = [tool.name for tool in tools]
        if len(set(names)) != len(names):
            raise ValueError("tool names must be unique")
        return tools


class ToolResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: str = Field(min_length=1, max_length=200)
    content: str = Field(max_length=MAX_TOOL_RESULT_CHARS)


class ToolResultsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[ToolResult] = Field(min_length=1, max_length=MAX_TOOLS)

    @field_validator("results")
    @classmethod
    def _unique_ids(cls, results: list[ToolResult]) -> list[ToolResult]:
        ids = [result.tool_call_id for result in results]
        if len(set(ids)) != len(ids):
            raise ValueError("each tool_call_id may appear once")
        return results


class ToolResultsAccepted(BaseModel):
    run_id: str
    accepted: list[str]


class RunOut(BaseModel):
    """A run's stored row: its state while it waits for tool results, then its measurements."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    workspace_id: str
    agent_id: str
    provider: str
    model: str
    status: str
    finish_reason: str | None
    error_code: str | None
    started_at: datetime
    finished_at: datetime | None
    ttft_ms: float | None
    upstream_ttft_ms: float | None
    overhead_ms: float | None
    e2e_ms: float | None
    events: int
    input_tokens: int | None
    output_tokens: int | None
    awaiting_tool_calls: list[str] | None


class MemoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    workspace_id: str
    agent_id: str
    run_id: str | None
    kind: str
    scope: str
    content: str
    created_at: datetime


class MemoryList(BaseModel):
    items: list[MemoryOut]


class Health(BaseModel):
    status: str
    version: str
    contract_version: str
