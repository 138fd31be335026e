"""Assembling a whole answer from its events, the way `stream: false` and clients do."""

from runtime.assembler import AssembledToolCall, RunError, assemble
from runtime.contract import (
    Error,
    EventBase,
    MemoryWriteEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    RunFinish,
    RunStart,
    StreamChunk,
    TextEnd,
    TextStart,
    TokenTotals,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from runtime.guard import Sequencer


def run(*events: EventBase) -> list[EventBase]:
    return Sequencer("run_1").stamp_all(events)


def test_text_reasoning_tool_calls_and_memory() -> None:
    memory = MemoryWriteEvent(
        memory_id="mem_1",
        workspace_id="ws",
        agent_id="ag",
        kind="fact",
        scope="agent",
        content="likes tea",
    )
    events = run(
        RunStart(workspace_id="ws", agent_id="ag", provider="openai", model="m"),
        ReasoningStart(block_id="b0"),
        ReasoningDelta(block_id="b0", text="think "),
        ReasoningDelta(block_id="b0", text="hard"),
        ReasoningEnd(block_id="b0", signature="sig"),
        TextStart(block_id="b1"),
        StreamChunk(block_id="b1", text="Hé"),
        StreamChunk(block_id="b1", text="llo"),
        TextEnd(block_id="b1"),
        ToolCallStart(block_id="b2", tool_call_id="c1", name="f", index=0),
        ToolCallStart(block_id="b3", tool_call_id="c2", name="g", index=1),
        ToolCallDelta(block_id="b3", arguments_delta="not json"),
        ToolCallDelta(block_id="b2", arguments_delta='{"a": 1}'),
        ToolCallEnd(
            block_id="b2", tool_call_id="c1", name="f", arguments={"a": 1}, arguments_raw='{"a": 1}'
        ),
        ToolCallEnd(
            block_id="b3",
            tool_call_id="c2",
            name="g",
            arguments={},
            arguments_raw="not json",
            parse_error="arguments are not valid JSON",
        ),
        memory,
        Usage(input_tokens=5, output_tokens=3, cumulative=False),
        RunFinish(
            finish_reason="tool_calls",
            native_finish_reason="tool_calls",
            usage=TokenTotals(input_tokens=5, output_tokens=3),
        ),
    )
    result = assemble(events)
    assert result.run_id == "run_1"
    assert result.text == "Héllo"
    assert result.reasoning == "think hard"
    assert result.tool_calls == [
        AssembledToolCall(id="c1", name="f", arguments={"a": 1}, arguments_raw='{"a": 1}'),
        AssembledToolCall(
            id="c2",
            name="g",
            arguments={},
            arguments_raw="not json",
            parse_error="arguments are not valid JSON",
        ),
    ]
    assert [write.content for write in result.memory_writes] == ["likes tea"]
    assert result.usage == TokenTotals(input_tokens=5, output_tokens=3)
    assert result.finish_reason == "tool_calls"
    assert result.native_finish_reason == "tool_calls"
    assert result.error is None
    assert result.events == len(events)


def test_error_fields_are_kept() -> None:
    events = run(
        TextStart(block_id="b0"),
        StreamChunk(block_id="b0", text="part"),
        Error(
            code="overloaded",
            provider_code="overloaded_error",
            message="Overloaded",
            retryable=True,
            after_first_token=False,
        ),
        RunFinish(finish_reason="error"),
    )
    result = assemble(events)
    assert result.text == "part"
    assert result.finish_reason == "error"
    # The sequencer knows content went out before the error.
    assert result.error == RunError(
        code="overloaded",
        provider_code="overloaded_error",
        message="Overloaded",
        retryable=True,
        after_first_token=True,
    )


def test_usage_is_computed_when_the_finish_carries_none() -> None:
    result = assemble(
        [
            Usage(input_tokens=10, output_tokens=1, cumulative=True),
            Usage(output_tokens=7, cumulative=True),
            RunFinish(finish_reason="stop"),
        ]
    )
    assert result.usage == TokenTotals(input_tokens=10, output_tokens=7)


def test_no_finish_and_no_usage() -> None:
    result = assemble([TextStart(block_id="b"), StreamChunk(block_id="b", text="x")])
    assert result.finish_reason is None
    assert result.usage is None
    assert result.events == 2


def test_empty_stream() -> None:
    result = assemble([])
    assert result.model_dump() == {
        "run_id": "",
        "text": "",
        "reasoning": "",
        "tool_calls": [],
        "memory_writes": [],
        "usage": None,
        "finish_reason": None,
        "native_finish_reason": None,
        "error": None,
        "events": 0,
    }
