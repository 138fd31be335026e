"""Reads token usage from a response on the side, without altering a byte of it.

One reader covers the three wire formats because they put usage in few places:
- OpenAI / OpenRouter chat: a top-level `usage` (the final chunk of a stream, or the body);
- OpenAI Responses: `response.usage` in `response.completed`;
- Anthropic: `message.usage` in `message_start` (input) and a cumulative `usage` in
  `message_delta` (output); the body's `usage` when not streaming.
The latest value seen wins, which is right for cumulative counts and for final chunks alike.
SSE comments, pings, `[DONE]` and anything that is not JSON are skipped, never fatal.
"""

import json
from typing import Any

_MAX_BODY = 4 * 1_048_576  # a non-streamed body larger than this is not parsed for usage
_INPUT_KEYS = ("prompt_tokens", "input_tokens")
_OUTPUT_KEYS = ("completion_tokens", "output_tokens")


class UsageReader:
    def __init__(self, streamed: bool) -> None:
        self.streamed = streamed
        self.tokens_in: int | None = None
        self.tokens_out: int | None = None
        self._buffer = bytearray()
        self._overflowed = False

    def feed(self, chunk: bytes) -> None:
        if self._overflowed:
            return
        self._buffer += chunk
        if not self.streamed:
            if len(self._buffer) > _MAX_BODY:
                self._overflowed = True
                self._buffer.clear()
            return
        *lines, rest = self._buffer.split(b"\n")
        self._buffer = bytearray(rest)
        for line in lines:
            self._line(bytes(line).strip())

    def finish(self) -> None:
        if self.streamed:
            self._line(bytes(self._buffer).strip())
        elif not self._overflowed:
            self._document(bytes(self._buffer))
        self._buffer.clear()

    def _line(self, line: bytes) -> None:
        # Usage travels in a few events; most lines are text deltas not worth a JSON parse.
        if line.startswith(b"data:") and b'"usage"' in line:
            self._document(line[5:].strip())

    def _document(self, raw: bytes) -> None:
        if not raw or raw == b"[DONE]":
            return
        try:
            document = json.loads(raw)
        except ValueError:
            return
        if isinstance(document, dict):
            for holder in (document, document.get("message"), document.get("response")):
                if isinstance(holder, dict):
                    self._usage(holder.get("usage"))

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        for key in _INPUT_KEYS:
            if isinstance(usage.get(key), int):
                self.tokens_in = usage[key]
        for key in _OUTPUT_KEYS:
            if isinstance(usage.get(key), int):
                self.tokens_out = usage[key]
