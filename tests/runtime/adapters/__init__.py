"""Checks every adapter test applies to a recorded stream."""

from typing import Any

from runtime.assembler import assemble
from runtime.contract import EventBase, RunFinish, ToolCallDelta, ToolCallEnd
from runtime.guard import Sequencer, violations
from tests.fakes.recorded import decode, expected, recording, summarize


def outline(events: list[EventBase]) -> list[tuple[Any, ...]]:
    """Each event as a tuple of its fields without the envelope: exact, and short to write."""
    return [tuple(e.model_dump(exclude={"run_id", "seq", "ts"}).values()) for e in events]


def kinds(events: list[EventBase]) -> list[str]:
    return [str(getattr(event, "type", "")) for event in events]


def check_recording(provider: str, scenario: str) -> list[EventBase]:
    """Decodes a recording whole and byte by byte, checks both against the contract and the
    expected result, and returns the events for closer assertions."""
    stream = recording(provider, scenario)
    events = decode(provider, [stream])
    byte_by_byte = decode(provider, (stream[i : i + 1] for i in range(len(stream))))
    assert outline(byte_by_byte) == outline(events)

    assert isinstance(events[-1], RunFinish)
    assert sum(isinstance(event, RunFinish) for event in events) == 1
    # The decoder closes its own blocks: the sequencer has nothing to repair.
    stamped = Sequencer("run_test").stamp_all([event.model_copy() for event in events])
    assert len(stamped) == len(events)
    assert violations(stamped) == []

    deltas: dict[str, str] = {}
    for event in events:
        if isinstance(event, ToolCallDelta):
            deltas[event.block_id] = deltas.get(event.block_id, "") + event.arguments_delta
        elif isinstance(event, ToolCallEnd):
            # What a streaming client displayed is what the call was made with.
            assert deltas.get(event.block_id, "") == event.arguments_raw

    assert summarize(assemble(events)) == expected(provider, scenario)
    return events
