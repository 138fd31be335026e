"""A whole answer from its events: what `stream: false` returns and what clients build.

Deltas are joined in arrival order, so the text equals what a streaming client displayed.
Tool calls come from `tool_call.end`, whose arguments are parsed once from the complete text;
the deltas before it are for display only.
"""

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from runtime.contract import (
    Error,
    ErrorCode,
    EventBase,
    FinishReason,
    MemoryWriteEvent,
    ReasoningDelta,
    RunFinish,
    StreamChunk,
    TokenTotals,
    ToolCallEnd,
    Usage,
)
from runtime.usage import UsageCounter


class AssembledToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    arguments: dict[str, Any]
    arguments_raw: str
    parse_error: str | None = None


class RunError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ErrorCode
    provider_code: str | None = None
    message: str
    retryable: bool
    after_first_token: bool


class RunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = ""
    text: str = ""
    reasoning: str = ""
    tool_calls: list[AssembledToolCall] = Field(default_factory=list)
    memory_writes: list[MemoryWriteEvent] = Field(default_factory=list)
    usage: TokenTotals | None = None
    finish_reason: FinishReason | None = None  # None: the stream never finished
    native_finish_reason: str | None = None
    error: RunError | None = None
    events: int = 0


def assemble(events: Iterable[EventBase]) -> RunResult:
    text: list[str] = []
    reasoning: list[str] = []
    result = RunResult()
    counter = UsageCounter()
    finish: RunFinish | None = None
    for event in events:
        result.events += 1
        result.run_id = result.run_id or event.run_id
        if isinstance(event, StreamChunk):
            text.append(event.text)
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, ToolCallEnd):
            result.tool_calls.append(
                AssembledToolCall(
                    id=event.tool_call_id,
                    name=event.name,
                    arguments=event.arguments,
                    arguments_raw=event.arguments_raw,
                    parse_error=event.parse_error,
                )
            )
        elif isinstance(event, MemoryWriteEvent):
            result.memory_writes.append(event)
        elif isinstance(event, Usage):
            counter.add(event)
        elif isinstance(event, Error) and result.error is None:
            # The first failure is the cause; anything after it is a consequence.
            result.error = RunError.model_validate(
                event.model_dump(include=set(RunError.model_fields))
            )
        elif isinstance(event, RunFinish):
            finish = event
            counter.end_turn()  # a later turn's running totals add to this one's
    result.text = "".join(text)
    result.reasoning = "".join(reasoning)
    if finish is not None:
        result.finish_reason = finish.finish_reason
        result.native_finish_reason = finish.native_finish_reason
    # The finish carries the run's own totals; without them, add up what was reported.
    result.usage = finish.usage if finish is not None and finish.usage else counter.totals()
    return result
