"""Decoding OpenAI-shaped Chat Completions streams (OpenAI itself, and OpenRouter on top).

Tool calls are the hard part, because servers that claim this format disagree on it:
- calls are keyed by `index`, never by their position in the `tool_calls` array, because
  parallel calls interleave and one chunk may carry several calls in any order;
- some servers reuse index 0 for every call and tell calls apart only by `id`; others repeat
  the `id` on every fragment (even a different one), leave it out, or send a number;
- the name and the first arguments may share a chunk, or the whole call may fit in one;
- some servers resend the whole argument string each time instead of the next fragment;
- arguments are JSON *fragments*, parsed once when the call is complete;
- `finish_reason` may repeat on every chunk, and the usage-only chunk (`"choices": []`) comes
  after it, so neither closes a call or ends the turn: only `[DONE]` (or the end of the
  bytes) does.
"""

import json
from dataclasses import dataclass
from typing import Any

from runtime.adapters.errors import error_from_document
from runtime.adapters.stream import SseJsonDecoder, dict_or_empty, int_or_none, text_or_none
from runtime.contract import EventBase


def fresh_suffix(accumulated: str, fragment: str) -> str:
    """The part of `fragment` that is new. A server that resends the full argument string sends
    a fragment starting with everything so far; real fragments never do, since the argument
    text would then repeat its own opening, which JSON cannot."""
    if accumulated.strip() and fragment.startswith(accumulated):
        return fragment[len(accumulated) :]
    return fragment


@dataclass
class _Slot:
    """The call currently streaming at one `index`."""

    key: int
    call_id: str | None
    name: str | None = None
    raw: str = ""  # every argument character received, whether sent on yet or not
    sent: int = 0  # how much of `raw` has gone out as deltas (none before the call starts)
    started: bool = False


class ChatDecoder(SseJsonDecoder):
    reasoning_field: str | None = None  # a delta field carrying reasoning text, where supported

    def __init__(self, turn: int) -> None:
        super().__init__(turn)
        self._slots: dict[int, _Slot] = {}
        self._calls = 0

    def on_document(self, name: str | None, document: dict[str, Any]) -> None:
        if name == "error" and not document.get("error"):
            # Some compatible servers name the failure event instead of nesting `error`.
            document = {"error": document}
        choices = document.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            # Only the first choice is the answer; `n > 1` is not something an agent asks for.
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice)
        usage = document.get("usage")
        if isinstance(usage, dict):
            self._usage(usage)
        self.after_chunk(document)

    def after_chunk(self, document: dict[str, Any]) -> None:
        """A mid-stream failure arrives as a chunk with a top-level `error` under HTTP 200."""
        if document.get("error"):
            self.turn.fail(error_from_document(document))

    def on_done(self) -> None:
        self._start_nameless_calls()
        super().on_done()

    def close(self) -> list[EventBase]:
        if not self.turn.done:
            self._start_nameless_calls()
        return super().close()

    def on_finish(self, choice: dict[str, Any]) -> None:
        """A choice carried `finish_reason` (perhaps again): noted, but the turn goes on."""
        self.turn.note_finish(text_or_none(choice.get("finish_reason")))

    def _choice(self, choice: dict[str, Any]) -> None:
        delta = dict_or_empty(choice.get("delta"))
        if self.reasoning_field is not None:
            self.turn.reasoning(text_or_none(delta.get(self.reasoning_field)) or "")
        self.turn.text(text_or_none(delta.get("content")) or "")
        # A refusal is what the model said instead of an answer: the user must see it.
        self.turn.text(text_or_none(delta.get("refusal")) or "")
        legacy = delta.get("function_call")
        if isinstance(legacy, dict):  # the pre-tools format: one call, no index, no id
            self._fragment({"index": 0, "function": legacy}, 0)
        calls = delta.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else []):
            if isinstance(call, dict):
                self._fragment(call, position)
        if choice.get("finish_reason"):
            self.on_finish(choice)

    def _fragment(self, call: dict[str, Any], position: int) -> None:
        index = int_or_none(call.get("index"))
        index = position if index is None else index  # only when a server leaves `index` out
        raw_id = call.get("id")
        call_id = str(raw_id) if isinstance(raw_id, str | int) and raw_id != "" else None
        function = dict_or_empty(call.get("function"))
        name = text_or_none(function.get("name")) or None
        slot = self._slots.get(index)
        if (
            slot is not None
            and name
            and call_id is not None
            and slot.call_id not in (None, call_id)
        ):
            # The index is being reused: a new id with a name at the same index is a new call,
            # and the previous one is complete. (A call's first fragment always names it, so a
            # nameless fragment with another id is a server renumbering its fragments.)
            self._ensure_started(slot)
            self.turn.end_tool(slot.key)
            slot = None
        if slot is None:
            slot = self._slots[index] = _Slot(key=self._calls, call_id=call_id)
            self._calls += 1
        elif slot.call_id is None and not slot.started:
            slot.call_id = call_id
        slot.name = slot.name or name
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # a few servers send the object itself
            arguments = json.dumps(arguments)
        if isinstance(arguments, str):
            slot.raw += fresh_suffix(slot.raw, arguments)
        if not slot.started and slot.name is not None:
            self._start(slot)
        if slot.started and slot.sent < len(slot.raw):
            self.turn.tool_arguments(slot.key, slot.raw[slot.sent :])
            slot.sent = len(slot.raw)

    def _start(self, slot: _Slot) -> None:
        # A call without an id still needs one the run can answer with; it is unique in the run.
        call_id = slot.call_id or f"call_{self.turn.turn}_{slot.key}"
        self.turn.start_tool(slot.key, call_id, slot.name or "")
        slot.started = True

    def _start_nameless_calls(self) -> None:
        for slot in self._slots.values():
            self._ensure_started(slot)

    def _ensure_started(self, slot: _Slot) -> None:
        """A call whose name never came is still reported (with an empty name), not dropped."""
        if not slot.started:
            self._start(slot)
            self.turn.tool_arguments(slot.key, slot.raw)
            slot.sent = len(slot.raw)

    def _usage(self, usage: dict[str, Any]) -> None:
        prompt = dict_or_empty(usage.get("prompt_tokens_details"))
        completion = dict_or_empty(usage.get("completion_tokens_details"))
        # One report per turn, covering the whole turn: an increment for the run's sum.
        self.turn.report_usage(
            cumulative=False,
            input_tokens=int_or_none(usage.get("prompt_tokens")),
            output_tokens=int_or_none(usage.get("completion_tokens")),
            cached_tokens=int_or_none(prompt.get("cached_tokens")),
            reasoning_tokens=int_or_none(completion.get("reasoning_tokens")),
        )
