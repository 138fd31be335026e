"""Anthropic Messages: the request for one turn, and its stream decoder.

The stream names every event. Blocks are explicit (`content_block_start`/`_delta`/`_stop`,
keyed by `index`), tool input arrives as JSON fragments parsed once at the block's stop, and
usage is cumulative: `message_start` gives the input, each `message_delta` the output so far.
Extended thinking arrives as `thinking_delta`s plus a `signature_delta`, which travels on
`reasoning.end` because the block cannot be replayed to the model without it. `ping` and event
types this decoder does not know are ignored, as Anthropic asks of clients.
"""

import json
from typing import Any

from runtime.adapters.base import StreamDecoder, UpstreamRequest
from runtime.adapters.errors import error_from_body, error_from_document
from runtime.adapters.request import with_parameters
from runtime.adapters.stream import SseJsonDecoder, dict_or_empty, int_or_none, text_or_none
from runtime.contract import EventBase
from runtime.conversation import Message, ModelCall

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # Anthropic requires max_tokens; agents rarely think to set it


class AnthropicDecoder(SseJsonDecoder):
    def __init__(self, turn: int) -> None:
        super().__init__(turn)
        self._kinds: dict[int, str] = {}  # block index → "text", "thinking" or "tool_use"
        self._signatures: dict[int, str] = {}
        self._inputs: dict[int, str] = {}  # tool input given whole in content_block_start

    def on_document(self, name: str | None, document: dict[str, Any]) -> None:
        kind = text_or_none(document.get("type")) or name
        index = int_or_none(document.get("index"))
        if kind == "message_start":
            self._usage(dict_or_empty(dict_or_empty(document.get("message")).get("usage")))
        elif kind == "content_block_start" and index is not None:
            self._start(index, dict_or_empty(document.get("content_block")))
        elif kind == "content_block_delta" and index is not None:
            self._delta(index, dict_or_empty(document.get("delta")))
        elif kind == "content_block_stop" and index is not None:
            self._stop(index)
        elif kind == "message_delta":
            reason = text_or_none(dict_or_empty(document.get("delta")).get("stop_reason"))
            if reason is not None:
                self.turn.note_finish(reason)
            self._usage(dict_or_empty(document.get("usage")))
        elif kind == "message_stop":
            self.turn.complete()
        elif kind == "error":
            self.turn.fail(error_from_document(document))

    def _start(self, index: int, block: dict[str, Any]) -> None:
        kind = text_or_none(block.get("type"))
        if kind == "text":
            self.turn.text(text_or_none(block.get("text")) or "", key=index)
        elif kind == "thinking":
            self.turn.start_reasoning(key=index)
            self.turn.reasoning(text_or_none(block.get("thinking")) or "", key=index)
            if signature := text_or_none(block.get("signature")):
                self._signatures[index] = signature
        elif kind == "tool_use":
            call_id = text_or_none(block.get("id")) or f"toolu_{self.turn.turn}_{index}"
            self.turn.start_tool(index, call_id, text_or_none(block.get("name")) or "")
            if given := dict_or_empty(block.get("input")):
                self._inputs[index] = json.dumps(given, ensure_ascii=False)
        else:
            return  # redacted thinking, server tools: nothing the contract carries
        self._kinds[index] = kind

    def _delta(self, index: int, delta: dict[str, Any]) -> None:
        kind = delta.get("type")
        if kind == "text_delta":
            self.turn.text(text_or_none(delta.get("text")) or "", key=index)
        elif kind == "input_json_delta":
            self.turn.tool_arguments(index, text_or_none(delta.get("partial_json")) or "")
        elif kind == "thinking_delta":
            self.turn.reasoning(text_or_none(delta.get("thinking")) or "", key=index)
        elif kind == "signature_delta":
            self._signatures[index] = text_or_none(delta.get("signature")) or ""

    def _stop(self, index: int) -> None:
        kind = self._kinds.pop(index, None)
        if kind == "text":
            self.turn.end_text()
        elif kind == "thinking":
            self.turn.end_reasoning(self._signatures.pop(index, None) or None)
        elif kind == "tool_use":
            given = self._inputs.pop(index, "")
            if given and not self.turn.tool_raw(index):
                # The whole input came in the start event: send it as the call's one delta.
                self.turn.tool_arguments(index, given)
            self.turn.end_tool(index)

    def _usage(self, usage: dict[str, Any]) -> None:
        # Running totals: each report replaces the last one field by field. Anthropic's
        # input_tokens leave out cache reads (OpenAI's include them); both are kept as reported.
        self.turn.report_usage(
            cumulative=True,
            input_tokens=int_or_none(usage.get("input_tokens")),
            output_tokens=int_or_none(usage.get("output_tokens")),
            cached_tokens=int_or_none(usage.get("cache_read_input_tokens")),
        )


def anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    translated: list[dict[str, Any]] = []
    results: list[dict[str, Any]] | None = None  # the user message gathering tool results
    for message in messages:
        if message.role == "system":
            continue  # carried in the top-level `system`
        if message.role == "tool":
            if results is None:
                # Parallel calls are answered together, in one user message.
                results = []
                translated.append({"role": "user", "content": results})
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": message.tool_call_id,
                    "content": message.content,
                }
            )
            continue
        results = None
        if message.role == "assistant" and message.tool_calls:
            blocks: list[dict[str, Any]] = []
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            blocks.extend(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
                for call in message.tool_calls
            )
            translated.append({"role": "assistant", "content": blocks})
        else:
            translated.append({"role": message.role, "content": message.content})
    return translated


def anthropic_body(call: ModelCall) -> dict[str, Any]:
    system = [call.instructions or ""] + [m.content for m in call.messages if m.role == "system"]
    max_tokens = call.parameters.get("max_tokens")
    body: dict[str, Any] = {
        "model": call.model,
        "messages": anthropic_messages(call.messages),
        "max_tokens": max_tokens if isinstance(max_tokens, int) else DEFAULT_MAX_TOKENS,
        "stream": True,
    }
    if text := "\n\n".join(part for part in system if part):
        body["system"] = text
    if call.tools:
        body["tools"] = [
            {
                "name": tool.name,
                **({"description": tool.description} if tool.description else {}),
                "input_schema": tool.parameters,
            }
            for tool in call.tools
        ]
    return with_parameters(call, body)


class AnthropicAdapter:
    name = "anthropic"

    def build_request(self, call: ModelCall) -> UpstreamRequest:
        return UpstreamRequest(
            upstream="anthropic",
            path="v1/messages",
            body=anthropic_body(call),
            headers={"anthropic-version": API_VERSION},
        )

    def decoder(self, turn: int) -> StreamDecoder:
        return AnthropicDecoder(turn)

    def error_from_status(self, status: int, body: bytes) -> list[EventBase]:
        return error_from_body(status, body)
