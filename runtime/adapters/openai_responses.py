"""OpenAI Responses: the request for one turn, and its stream decoder.

The stream is a lifecycle of typed events: `response.created`, then per output item
`response.output_item.added`, its deltas (keyed by `item_id`), and `response.output_item.done`,
whose function-call arguments are authoritative; then one of `response.completed` (with the
usage), `response.incomplete`, `response.failed`, or a bare `error`. Argument deltas go through
the same resend check as Chat Completions, since compatible servers share its habits.
"""

from typing import Any

from runtime.adapters.base import StreamDecoder, UpstreamRequest
from runtime.adapters.chat_stream import fresh_suffix
from runtime.adapters.errors import error_event, error_from_body, error_from_document
from runtime.adapters.request import arguments_json, with_parameters
from runtime.adapters.stream import SseJsonDecoder, dict_or_empty, int_or_none, text_or_none
from runtime.contract import EventBase
from runtime.conversation import Message, ModelCall

_REASONING_DELTAS = ("response.reasoning_summary_text.delta", "response.reasoning_text.delta")
_TEXT_DELTAS = ("response.output_text.delta", "response.refusal.delta")


class ResponsesDecoder(SseJsonDecoder):
    def __init__(self, turn: int) -> None:
        super().__init__(turn)
        self._item_ids: dict[int, str] = {}  # output_index → item id, for events naming only one
        self._calls = 0

    def on_document(self, name: str | None, document: dict[str, Any]) -> None:
        kind = text_or_none(document.get("type")) or name
        delta = text_or_none(document.get("delta")) or ""
        if kind == "response.output_item.added":
            self._added(document)
        elif kind in _TEXT_DELTAS:
            self.turn.text(delta, key=self._item(document))
        elif kind in _REASONING_DELTAS:
            self.turn.reasoning(delta, key=self._item(document))
        elif kind == "response.function_call_arguments.delta":
            key = self._item(document)
            self.turn.tool_arguments(key, fresh_suffix(self.turn.tool_raw(key), delta))
        elif kind == "response.output_item.done":
            self._done(document)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self._end(kind, dict_or_empty(document.get("response")))
        elif kind == "error":
            self.turn.fail(error_from_document(document))

    def _item(self, document: dict[str, Any]) -> str:
        item_id = text_or_none(document.get("item_id"))
        if item_id:
            return item_id
        index = int_or_none(document.get("output_index"))
        return self._item_ids.get(index if index is not None else -1, f"output_{index}")

    def _added(self, document: dict[str, Any]) -> None:
        item = dict_or_empty(document.get("item"))
        index = int_or_none(document.get("output_index"))
        item_id = text_or_none(item.get("id")) or f"output_{index}"
        if index is not None:
            self._item_ids[index] = item_id
        if item.get("type") != "function_call":
            return  # message and reasoning blocks open with their first delta
        call_id = text_or_none(item.get("call_id")) or item_id
        self.turn.start_tool(item_id, call_id, text_or_none(item.get("name")) or "")
        self._calls += 1
        self.turn.tool_arguments(item_id, text_or_none(item.get("arguments")) or "")

    def _done(self, document: dict[str, Any]) -> None:
        item = dict_or_empty(document.get("item"))
        item_id = text_or_none(item.get("id")) or self._item(document)
        kind = item.get("type")
        if kind == "function_call":
            self.turn.end_tool(item_id, final=text_or_none(item.get("arguments")))
        elif kind == "message":
            self.turn.end_text()
        elif kind == "reasoning":
            self.turn.end_reasoning()

    def _end(self, kind: str, response: dict[str, Any]) -> None:
        self._usage(dict_or_empty(response.get("usage")))
        if kind == "response.failed":
            failure = dict_or_empty(response.get("error"))
            if failure:
                self.turn.fail(error_from_document(failure))
            else:
                self.turn.fail(error_event("failed", "the response failed"))
            return
        if kind == "response.incomplete":
            details = dict_or_empty(response.get("incomplete_details"))
            self.turn.note_finish(text_or_none(details.get("reason")) or "incomplete")
        else:
            status = text_or_none(response.get("status")) or "completed"
            self.turn.note_finish(status, "tool_calls" if self._calls else "stop")
        self.turn.complete()

    def _usage(self, usage: dict[str, Any]) -> None:
        inputs = dict_or_empty(usage.get("input_tokens_details"))
        outputs = dict_or_empty(usage.get("output_tokens_details"))
        self.turn.report_usage(
            cumulative=False,
            input_tokens=int_or_none(usage.get("input_tokens")),
            output_tokens=int_or_none(usage.get("output_tokens")),
            cached_tokens=int_or_none(inputs.get("cached_tokens")),
            reasoning_tokens=int_or_none(outputs.get("reasoning_tokens")),
        )


def responses_input(messages: list[Message]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id,
                    "output": message.content,
                }
            )
            continue
        if message.content or not message.tool_calls:
            items.append({"role": message.role, "content": message.content})
        items.extend(
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": arguments_json(call.arguments),
            }
            for call in message.tool_calls
        )
    return items


def responses_body(call: ModelCall) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": call.model,
        "input": responses_input(call.messages),
        "stream": True,
    }
    if call.instructions:
        body["instructions"] = call.instructions
    if call.tools:
        body["tools"] = [
            {
                "type": "function",
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "parameters": tool.parameters,
                # Strict mode rejects ordinary schemas (it wants additionalProperties: false).
                "strict": False,
            }
            for tool in call.tools
        ]
    merged = with_parameters(call, body)
    # The Responses API calls it max_output_tokens and refuses max_tokens.
    if "max_tokens" in merged:
        merged.setdefault("max_output_tokens", merged.pop("max_tokens"))
    return merged


class OpenAIResponsesAdapter:
    name = "openai-responses"

    def build_request(self, call: ModelCall) -> UpstreamRequest:
        return UpstreamRequest(upstream="openai", path="v1/responses", body=responses_body(call))

    def decoder(self, turn: int) -> StreamDecoder:
        return ResponsesDecoder(turn)

    def error_from_status(self, status: int, body: bytes) -> list[EventBase]:
        return error_from_body(status, body)
