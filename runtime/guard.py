"""Keeps the contract's rules as events leave a run, and checks them where events arrive.

`Sequencer` stamps `run_id`, `seq` and `ts` on adapter output and repairs what a provider left
undone: it closes open blocks before the finish, lets nothing through after the finish, and
sets `after_first_token` on errors from what this run has really sent. `violations()` is the
independent check that tests and the client apply to a received stream.
"""

import itertools
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from runtime.contract import (
    BLOCK_ENDS,
    BLOCK_STARTS,
    Error,
    ErrorCode,
    EventBase,
    FinishReason,
    ReasoningEnd,
    ReasoningStart,
    RunFinish,
    TextEnd,
    TextStart,
    TokenTotals,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    is_content,
)


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Tool arguments from their accumulated text: no arguments are `{}`; anything that is not
    a JSON object is reported, never guessed at."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except ValueError as error:
        return {}, f"arguments are not valid JSON: {error}"
    if not isinstance(value, dict):
        return {}, "arguments are not a JSON object"
    return value, None


class Sequencer:
    def __init__(self, run_id: str, first_seq: int = 1) -> None:
        self.run_id = run_id
        self.next_seq = first_seq
        self.finished = False
        self.saw_content = False
        # block_id → its start event; tool arguments accumulate for a synthesized end.
        self._open: dict[str, EventBase] = {}
        self._arguments: dict[str, list[str]] = {}

    def stamp(self, event: EventBase) -> list[EventBase]:
        """The events to send for one produced event (none after the finish)."""
        if self.finished:
            return []
        out: list[EventBase] = []
        if isinstance(event, RunFinish):
            out.extend(self._close_open_blocks())
            self.finished = True
        elif isinstance(event, BLOCK_STARTS):
            self._open[event.block_id] = event
            if isinstance(event, ToolCallStart):
                self._arguments[event.block_id] = []
        elif isinstance(event, BLOCK_ENDS):
            self._open.pop(event.block_id, None)
            self._arguments.pop(event.block_id, None)
        elif isinstance(event, ToolCallDelta) and event.block_id in self._arguments:
            self._arguments[event.block_id].append(event.arguments_delta)
        elif isinstance(event, Error):
            event.after_first_token = self.saw_content
        self.saw_content = self.saw_content or is_content(event)
        out.append(event)
        return [self._envelope(item) for item in out]

    def stamp_all(self, events: Iterable[EventBase]) -> list[EventBase]:
        return [stamped for event in events for stamped in self.stamp(event)]

    def fail(
        self,
        code: ErrorCode,
        message: str,
        *,
        retryable: bool = False,
        provider_code: str | None = None,
        finish_reason: FinishReason = "error",
        usage: TokenTotals | None = None,
    ) -> list[EventBase]:
        """`error` then `run.finish`, closing whatever is open."""
        error = Error(
            code=code,
            provider_code=provider_code,
            message=message,
            retryable=retryable,
            after_first_token=self.saw_content,
        )
        return self.stamp_all([error, RunFinish(finish_reason=finish_reason, usage=usage)])

    def _close_open_blocks(self) -> list[EventBase]:
        ends: list[EventBase] = []
        for block_id, start in self._open.items():
            if isinstance(start, TextStart):
                ends.append(TextEnd(block_id=block_id))
            elif isinstance(start, ReasoningStart):
                ends.append(ReasoningEnd(block_id=block_id))
            elif isinstance(start, ToolCallStart):
                raw = "".join(self._arguments.get(block_id, []))
                arguments, problem = parse_arguments(raw)
                ends.append(
                    ToolCallEnd(
                        block_id=block_id,
                        tool_call_id=start.tool_call_id,
                        name=start.name,
                        arguments=arguments,
                        arguments_raw=raw,
                        parse_error=problem,
                    )
                )
        self._open.clear()
        self._arguments.clear()
        return ends

    def _envelope(self, event: EventBase) -> EventBase:
        event.run_id = self.run_id
        event.seq = self.next_seq
        event.ts = time.time()
        self.next_seq += 1
        return event


def violations(events: Sequence[EventBase]) -> list[str]:
    """Every way a received stream breaks the contract; empty when it keeps every rule."""
    problems = _envelope_problems(events)
    open_blocks: set[str] = set()
    for index, event in enumerate(events):
        if isinstance(event, BLOCK_STARTS):
            if event.block_id in open_blocks:
                problems.append(f"block {event.block_id} started twice")
            open_blocks.add(event.block_id)
        elif isinstance(event, BLOCK_ENDS):
            if event.block_id not in open_blocks:
                problems.append(f"block {event.block_id} ended without being open")
            open_blocks.discard(event.block_id)
        elif isinstance(event, RunFinish) and open_blocks:
            problems.append(f"blocks still open at run.finish: {sorted(open_blocks)}")
        elif isinstance(event, Error):
            following = events[index + 1 :]
            finish = next((e for e in following if isinstance(e, RunFinish)), None)
            if finish is None or finish.finish_reason not in ("error", "cancelled"):
                problems.append("an error is not followed by run.finish(error)")
    return problems


def _envelope_problems(events: Sequence[EventBase]) -> list[str]:
    problems: list[str] = []
    finishes = [index for index, event in enumerate(events) if isinstance(event, RunFinish)]
    if len(finishes) != 1:
        problems.append(f"expected exactly one run.finish, got {len(finishes)}")
    elif finishes[0] != len(events) - 1:
        problems.append("events follow run.finish")
    run_ids = {event.run_id for event in events}
    if len(run_ids) > 1:
        problems.append(f"more than one run_id: {sorted(run_ids)}")
    for before, after in itertools.pairwise(events):
        if after.seq <= before.seq:
            problems.append(f"seq does not increase: {before.seq} then {after.seq}")
    return problems
