"""The streaming runtime's event contract: one shape for every provider, versioned.

Every event is a flat JSON object with `type`, `run_id`, a strictly increasing `seq` and `ts`
(Unix seconds). Text, reasoning and tool-call blocks each have a stable `block_id` and an
explicit start, deltas and end. Rules every producer keeps (`runtime.guard` enforces them):

- exactly one `run.finish` per run, and it is the last event;
- every block is closed before the finish;
- an error produces `error` and then `run.finish` with `finish_reason="error"`;
- a stream that ends with no finish signal produces `error` with `code="truncated"`.

Adapters build events without the envelope (`run_id`, `seq` and `ts` keep their defaults);
the run stamps them as they leave, so that a run spanning several model turns numbers its
events in one sequence.
"""

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

CONTRACT_VERSION = "1.0"
SCHEMA_ID = f"https://gatehouse.dev/schemas/runtime-events/{CONTRACT_VERSION}.json"

FinishReason = Literal[
    "stop", "length", "tool_calls", "content_filter", "error", "cancelled", "unknown"
]
# The error codes the runtime itself assigns; providers' own codes travel in `provider_code`.
ErrorCode = Literal[
    "truncated",  # the stream ended with no finish signal
    "provider_error",  # the provider reported a failure (HTTP status or mid-stream)
    "rate_limited",
    "overloaded",
    "invalid_request",
    "unauthorized",  # the proxy or provider refused the credential or the policy
    "content_filter",
    "upstream_unreachable",
    "timeout",
    "tool_results_timeout",  # the client never answered the tool calls
    "runtime_error",
    "runtime_unavailable",  # the runtime went away mid-run (reported by the client)
    "cancelled",
]


class EventBase(BaseModel):
    # Serialization-mode schemas list the envelope as required: it is always present on the wire.
    model_config = ConfigDict(
        extra="forbid", json_schema_serialization_defaults_required=True, frozen=False
    )

    run_id: str = ""
    seq: int = 0
    ts: float = 0.0


class RunStart(EventBase):
    type: Literal["run.start"] = "run.start"
    contract_version: str = CONTRACT_VERSION
    workspace_id: str
    agent_id: str
    provider: str
    model: str


class TextStart(EventBase):
    type: Literal["text.start"] = "text.start"
    block_id: str


class StreamChunk(EventBase):
    """A piece of the answer's text."""

    type: Literal["text.delta"] = "text.delta"
    block_id: str
    text: str


class TextEnd(EventBase):
    type: Literal["text.end"] = "text.end"
    block_id: str


class ReasoningStart(EventBase):
    type: Literal["reasoning.start"] = "reasoning.start"
    block_id: str


class ReasoningDelta(EventBase):
    type: Literal["reasoning.delta"] = "reasoning.delta"
    block_id: str
    text: str


class ReasoningEnd(EventBase):
    type: Literal["reasoning.end"] = "reasoning.end"
    block_id: str
    signature: str | None = None  # Anthropic's thinking signature, needed to replay the block


class ToolCallStart(EventBase):
    type: Literal["tool_call.start"] = "tool_call.start"
    block_id: str
    tool_call_id: str
    name: str
    index: int  # the call's position among this turn's parallel calls


class ToolCallDelta(EventBase):
    type: Literal["tool_call.delta"] = "tool_call.delta"
    block_id: str
    # The new argument text as it arrived: the deltas concatenate to `arguments_raw` (a server
    # that resends the whole string each time contributes only what is new).
    arguments_delta: str


class ToolCallEnd(EventBase):
    type: Literal["tool_call.end"] = "tool_call.end"
    block_id: str
    tool_call_id: str
    name: str
    arguments: dict[str, Any]  # parsed; no arguments become {}
    arguments_raw: str
    parse_error: str | None = None  # set when arguments_raw is not a JSON object


class MemoryWriteEvent(EventBase):
    type: Literal["memory.write"] = "memory.write"
    memory_id: str
    workspace_id: str
    agent_id: str
    kind: str  # e.g. "fact", "preference", "summary"
    scope: str  # e.g. "agent", "conversation"
    content: str


class Usage(EventBase):
    type: Literal["usage"] = "usage"
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    # True when the counts are totals so far (Anthropic), False when they are increments.
    cumulative: bool


class Error(EventBase):
    type: Literal["error"] = "error"
    code: ErrorCode
    provider_code: str | None = None
    message: str
    retryable: bool
    after_first_token: bool


class TokenTotals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


class RunFinish(EventBase):
    type: Literal["run.finish"] = "run.finish"
    finish_reason: FinishReason
    native_finish_reason: str | None = None
    usage: TokenTotals | None = None


Event = Annotated[
    RunStart
    | TextStart
    | StreamChunk
    | TextEnd
    | ReasoningStart
    | ReasoningDelta
    | ReasoningEnd
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | MemoryWriteEvent
    | Usage
    | Error
    | RunFinish,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[EventBase], ...] = (
    RunStart,
    TextStart,
    StreamChunk,
    TextEnd,
    ReasoningStart,
    ReasoningDelta,
    ReasoningEnd,
    ToolCallStart,
    ToolCallDelta,
    ToolCallEnd,
    MemoryWriteEvent,
    Usage,
    Error,
    RunFinish,
)
BLOCK_STARTS = (TextStart, ReasoningStart, ToolCallStart)
BLOCK_ENDS = (TextEnd, ReasoningEnd, ToolCallEnd)
# What counts for time-to-first-token: a delta with a non-empty payload (not a role-only chunk).
CONTENT_DELTAS = (StreamChunk, ReasoningDelta, ToolCallDelta)

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: str | bytes) -> Event:
    """One event from its JSON form; raises pydantic.ValidationError on anything else."""
    return EVENT_ADAPTER.validate_json(data)


def is_content(event: EventBase) -> bool:
    if isinstance(event, StreamChunk | ReasoningDelta):
        return bool(event.text)
    if isinstance(event, ToolCallDelta):
        return bool(event.arguments_delta)
    return False


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of one event (`gatehouse runtime schema`)."""
    schema = EVENT_ADAPTER.json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Gatehouse runtime event, contract {CONTRACT_VERSION}",
        **schema,
    }


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True)
