"""Chat Completions tool-call fragments in shapes the recordings do not cover."""

import json

from runtime.assembler import assemble
from runtime.contract import Error, ToolCallEnd
from tests.fakes.recorded import decode, summarize
from tests.runtime.adapters import kinds, outline

PROVIDER = "openai"


def test_unparsable_arguments_are_reported_not_guessed() -> None:
    chunk = {
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {"index": 0, "id": "c", "function": {"name": "f", "arguments": "{oops"}}
                    ]
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    stream = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
    end = next(e for e in decode(PROVIDER, [stream]) if isinstance(e, ToolCallEnd))
    assert end.arguments == {}
    assert end.arguments_raw == "{oops"
    assert end.parse_error is not None


def chunks(*deltas: dict[str, object], finish: str = "tool_calls") -> bytes:
    """A minimal stream of the given deltas, then the finish and [DONE]."""
    lines = [{"choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    lines.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    text = "".join(f"data: {json.dumps(line)}\n\n" for line in lines)
    return (text + "data: [DONE]\n\n").encode()


def test_name_arriving_after_the_id_defers_the_start() -> None:
    stream = chunks(
        {"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": '{"a"'}}]},
        {"tool_calls": [{"index": 0, "function": {"name": "late", "arguments": ": 1}"}}]},
    )
    events = outline(decode(PROVIDER, [stream]))
    assert events[:2] == [
        ("tool_call.start", "blk_0_0", "c1", "late", 0),
        ("tool_call.delta", "blk_0_0", '{"a": 1}'),
    ]


def test_missing_index_falls_back_to_position_and_object_arguments_are_serialized() -> None:
    stream = chunks(
        {
            "tool_calls": [
                {"id": "c1", "function": {"name": "f", "arguments": {"x": 1}}},
                {"id": "c2", "function": {"name": "g"}},
            ]
        }
    )
    ends = [e for e in decode(PROVIDER, [stream]) if isinstance(e, ToolCallEnd)]
    assert [(end.tool_call_id, end.arguments) for end in ends] == [("c1", {"x": 1}), ("c2", {})]


def test_a_call_whose_name_never_comes_is_still_reported() -> None:
    stream = chunks({"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": "{}"}}]})
    ends = [e for e in decode(PROVIDER, [stream]) if isinstance(e, ToolCallEnd)]
    assert [(end.tool_call_id, end.name, end.arguments_raw) for end in ends] == [("c1", "", "{}")]


def test_refusal_is_shown_as_text() -> None:
    stream = chunks({"role": "assistant", "refusal": "I can't help with that."}, finish="stop")
    assert summarize(assemble(decode(PROVIDER, [stream])))["text"] == "I can't help with that."


def test_named_error_event_from_a_compatible_server() -> None:
    stream = b'event: error\ndata: {"message": "boom", "type": "server_error"}\n\n'
    events = decode(PROVIDER, [stream])
    assert kinds(events) == ["error", "run.finish"]
    error = events[0]
    assert isinstance(error, Error)
    assert (error.code, error.message) == ("provider_error", "boom")


def test_a_fresh_id_on_a_nameless_fragment_continues_the_call() -> None:
    stream = chunks(
        {"tool_calls": [{"index": 0, "id": "a1", "function": {"name": "f", "arguments": '{"x"'}}]},
        {"tool_calls": [{"index": 0, "id": "a2", "function": {"arguments": ": 1}"}}]},
    )
    ends = [e for e in decode(PROVIDER, [stream]) if isinstance(e, ToolCallEnd)]
    assert [(end.tool_call_id, end.arguments) for end in ends] == [("a1", {"x": 1})]
