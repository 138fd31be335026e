"""The provider-neutral conversation a run sends to a model: messages, tools, and the agent's
choice of provider, model and parameters. Adapters translate it to each provider's format."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class ToolSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=TOOL_NAME)
    description: str = ""
    # A JSON Schema object for the arguments, as every provider takes it.
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(pattern=TOOL_NAME)
    arguments: dict[str, Any] = Field(default_factory=dict)


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    # On assistant messages: the calls the model made. On tool messages: which call answered.
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None


class ModelCall(BaseModel):
    """One model turn: everything an adapter needs to build the provider request."""

    provider: str
    model: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    instructions: str | None = None  # the agent's system prompt
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
