"""The contract events of one model turn, built up as a decoder reads the provider's stream.

Every decoder drives one `TurnEvents`: it says "text arrived", "a tool call started", "the
provider gave this stop reason", and `TurnEvents` turns that into correctly ordered block
events with ids from `block_id(turn, n)`. Keeping the bookkeeping here is what makes the
contract's rules hold for every provider alike: no empty blocks, every block closed before
`run.finish`, exactly one `run.finish` and nothing after it, `error` always followed by
`run.finish(error)`, and truncation reported when the stream stops without a finish signal.
"""

from dataclasses import dataclass, field

from runtime.adapters.base import block_id
from runtime.contract import (
    Error,
    EventBase,
    FinishReason,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    RunFinish,
    StreamChunk,
    TextEnd,
    TextStart,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    Usage,
)
from runtime.guard import parse_arguments
from runtime.usage import UsageCounter

# Native stop reasons of every provider, in the contract's terms.
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "max_output_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_calls": "tool_calls",
    "tool_use": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "refusal": "content_filter",
}


def map_finish_reason(native: str | None) -> FinishReason:
    return FINISH_REASONS.get(native or "", "unknown")


@dataclass
class _ToolBlock:
    block_id: str
    call_id: str
    name: str
    raw: list[str] = field(default_factory=list)


class TurnEvents:
    def __init__(self, turn: int) -> None:
        self.turn = turn
        self.done = False
        self.usage = UsageCounter()
        self._out: list[EventBase] = []
        self._blocks = 0
        self._tool_calls = 0
        # Open text and reasoning blocks: (provider key, block id). The key separates two
        # consecutive blocks of the same kind (Anthropic's block index, a Responses item id).
        self._text: tuple[object, str] | None = None
        self._reasoning: tuple[object, str] | None = None
        self._tools: dict[object, _ToolBlock] = {}
        self._finish: tuple[FinishReason, str | None] | None = None
        self._saw_content = False

    def drain(self) -> list[EventBase]:
        out, self._out = self._out, []
        return out

    # -- text and reasoning --------------------------------------------------------------

    def text(self, text: str, key: object = None) -> None:
        """Text for the answer; a block opens on the first non-empty piece, never before."""
        if not text or self.done:
            return
        self.end_reasoning()
        if self._text is not None and self._text[0] != key:
            self.end_text()
        if self._text is None:
            self._text = (key, self._new_block())
            self._emit(TextStart(block_id=self._text[1]))
        self._saw_content = True
        self._emit(StreamChunk(block_id=self._text[1], text=text))

    def end_text(self) -> None:
        if self._text is not None:
            self._emit(TextEnd(block_id=self._text[1]))
            self._text = None

    def start_reasoning(self, key: object = None) -> None:
        """Opens a reasoning block even before any text (a signature may be all it carries)."""
        if self.done or (self._reasoning is not None and self._reasoning[0] == key):
            return
        self.end_text()
        self.end_reasoning()
        self._reasoning = (key, self._new_block())
        self._emit(ReasoningStart(block_id=self._reasoning[1]))

    def reasoning(self, text: str, key: object = None) -> None:
        if not text or self.done:
            return
        self.start_reasoning(key)
        if self._reasoning is not None:
            self._saw_content = True
            self._emit(ReasoningDelta(block_id=self._reasoning[1], text=text))

    def end_reasoning(self, signature: str | None = None) -> None:
        if self._reasoning is not None:
            self._emit(ReasoningEnd(block_id=self._reasoning[1], signature=signature))
            self._reasoning = None

    # -- tool calls ----------------------------------------------------------------------

    def has_tool(self, key: object) -> bool:
        return key in self._tools

    def start_tool(self, key: object, call_id: str, name: str) -> None:
        if self.done:
            return
        self.end_text()
        self.end_reasoning()
        tool = _ToolBlock(self._new_block(), call_id, name)
        self._tools[key] = tool
        index, self._tool_calls = self._tool_calls, self._tool_calls + 1
        self._emit(
            ToolCallStart(block_id=tool.block_id, tool_call_id=call_id, name=name, index=index)
        )

    def tool_arguments(self, key: object, fragment: str) -> None:
        tool = self._tools.get(key)
        if tool is None or not fragment or self.done:
            return
        tool.raw.append(fragment)
        self._saw_content = True
        self._emit(ToolCallDelta(block_id=tool.block_id, arguments_delta=fragment))

    def tool_raw(self, key: object) -> str:
        tool = self._tools.get(key)
        return "".join(tool.raw) if tool is not None else ""

    def end_tool(self, key: object, final: str | None = None) -> None:
        """Closes the call, parsing its accumulated arguments once. `final` is an authoritative
        argument string (the Responses API's `output_item.done`): what it adds to the deltas is
        sent as one more delta, so the deltas still add up to `arguments_raw`."""
        tool = self._tools.pop(key, None)
        if tool is None:
            return
        raw = "".join(tool.raw)
        if final is not None and final != raw:
            if final.startswith(raw):
                self._emit(ToolCallDelta(block_id=tool.block_id, arguments_delta=final[len(raw) :]))
            raw = final
        arguments, problem = parse_arguments(raw)
        self._emit(
            ToolCallEnd(
                block_id=tool.block_id,
                tool_call_id=tool.call_id,
                name=tool.name,
                arguments=arguments,
                arguments_raw=raw,
                parse_error=problem,
            )
        )

    # -- usage and the end of the turn ---------------------------------------------------

    def report_usage(
        self,
        *,
        cumulative: bool,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cached_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        counts = (input_tokens, output_tokens, cached_tokens, reasoning_tokens)
        if self.done or all(count is None for count in counts):
            return
        event = Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            reasoning_tokens=reasoning_tokens,
            cumulative=cumulative,
        )
        self.usage.add(event)
        self._emit(event)

    def note_finish(self, native: str | None, reason: FinishReason | None = None) -> None:
        """The provider said why it stopped; the turn ends when the stream really does."""
        self._finish = (reason or map_finish_reason(native), native)

    def complete(self) -> None:
        """The provider's end-of-stream signal ([DONE], message_stop, response.completed)."""
        reason, native = self._finish or ("unknown", None)
        self._end(RunFinish(finish_reason=reason, native_finish_reason=native))

    def fail(self, error: Error) -> None:
        error.after_first_token = self._saw_content
        native = self._finish[1] if self._finish else None
        self._end(error, RunFinish(finish_reason="error", native_finish_reason=native))

    def end_of_stream(self) -> None:
        """The bytes stopped. With a stop reason seen the answer is whole (only the closing
        signal went missing); without one, it is not, however final the last chunk looked."""
        if self.done:
            return
        if self._finish is not None:
            self.complete()
            return
        message = "the provider's stream ended without a finish signal"
        self.fail(Error(code="truncated", message=message, retryable=True, after_first_token=False))

    def _end(self, *events: EventBase) -> None:
        if self.done:
            return
        self.end_text()
        self.end_reasoning()
        for key in list(self._tools):
            self.end_tool(key)
        final = events[-1]
        if isinstance(final, RunFinish):
            final.usage = self.usage.totals()
        self._out.extend(events)
        self.done = True

    def _new_block(self) -> str:
        number, self._blocks = self._blocks, self._blocks + 1
        return block_id(self.turn, number)

    def _emit(self, event: EventBase) -> None:
        self._out.append(event)
