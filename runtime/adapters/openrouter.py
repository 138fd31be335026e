"""OpenRouter: the OpenAI Chat Completions format with OpenRouter's own differences.

- `: OPENROUTER PROCESSING` keep-alive comments (the SSE parser drops them);
- `native_finish_reason`, the upstream model's own stop reason, beside the normalized one;
- a failure after streaming began keeps HTTP 200 and arrives as one last chunk with a
  top-level `error` and `finish_reason: "error"`; its `error.code` may be an HTTP status;
- `delta.reasoning` carries the reasoning text of models that think aloud.
"""

from typing import Any

from runtime.adapters.base import StreamDecoder, UpstreamRequest
from runtime.adapters.chat_stream import ChatDecoder
from runtime.adapters.errors import error_event, error_from_body, error_from_document
from runtime.adapters.openai_chat import chat_body
from runtime.adapters.stream import text_or_none
from runtime.adapters.turn import map_finish_reason
from runtime.contract import EventBase
from runtime.conversation import ModelCall


class OpenRouterDecoder(ChatDecoder):
    reasoning_field = "reasoning"

    def __init__(self, turn: int) -> None:
        super().__init__(turn)
        self._finished_with_error = False

    def on_finish(self, choice: dict[str, Any]) -> None:
        reason = text_or_none(choice.get("finish_reason"))
        native = text_or_none(choice.get("native_finish_reason")) or reason
        if reason == "error":
            self._finished_with_error = True
            self.turn.note_finish(native, "error")
        else:
            self.turn.note_finish(native, map_finish_reason(reason))

    def after_chunk(self, document: dict[str, Any]) -> None:
        if document.get("error"):
            self.turn.fail(error_from_document(document))
        elif self._finished_with_error:
            message = 'the provider ended the answer with finish_reason "error"'
            self.turn.fail(error_event("error", message))


class OpenRouterAdapter:
    name = "openrouter"

    def build_request(self, call: ModelCall) -> UpstreamRequest:
        return UpstreamRequest(
            upstream="openrouter", path="api/v1/chat/completions", body=chat_body(call)
        )

    def decoder(self, turn: int) -> StreamDecoder:
        return OpenRouterDecoder(turn)

    def error_from_status(self, status: int, body: bytes) -> list[EventBase]:
        return error_from_body(status, body)
