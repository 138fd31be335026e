"""An incremental parser for server-sent events, as every provider streams them.

It follows the WHATWG event-stream rules: lines end with `\\n`, `\\r\\n` or `\\r`; `data:` lines
accumulate; a blank line dispatches the event; lines starting with `:` are comments (OpenRouter's
`: OPENROUTER PROCESSING` keep-alives) and never reach a JSON parser. Bytes arrive in arbitrary
chunks, so a line is decoded only once it is complete: a chunk boundary inside a multi-byte
UTF-8 character, or between the `\\r` and `\\n` of one line ending, changes nothing.
"""

import re
from dataclasses import dataclass

_BOM = "\ufeff"
_LINE_ENDING = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SseEvent:
    event: str | None  # the `event:` name; None for unnamed events (OpenAI's `data:` only)
    data: str
    id: str | None = None


class SseParser:
    def __init__(self) -> None:
        self._pending = bytearray()  # bytes of the current, unfinished line
        # A `\r` ended the previous chunk: a `\n` opening the next one belongs to that ending.
        self._after_cr = False
        self._first_line = True
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, data: bytes) -> list[SseEvent]:
        events: list[SseEvent] = []
        if not data:
            return events
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]
        self._after_cr = False
        start = 0
        for ending in _LINE_ENDING.finditer(data):
            self._pending += data[start : ending.start()]
            self._line(events)
            start = ending.end()
        self._pending += data[start:]
        self._after_cr = data.endswith(b"\r")
        return events

    def close(self) -> list[SseEvent]:
        """The stream ended: a last line without its ending, and an event without its blank
        line, still count (a provider that closes the connection right after its final event)."""
        events: list[SseEvent] = []
        if self._pending:
            self._line(events)
        self._dispatch(events)
        return events

    def _line(self, events: list[SseEvent]) -> None:
        line = bytes(self._pending).decode("utf-8", errors="replace")
        self._pending.clear()
        if self._first_line:
            self._first_line = False
            line = line.removeprefix(_BOM)
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value or None
        elif name == "id" and "\0" not in value:
            self._id = value
        # `retry` and unknown fields are ignored, as the standard asks.

    def _dispatch(self, events: list[SseEvent]) -> None:
        if self._data:
            events.append(SseEvent(self._event, "\n".join(self._data), self._id))
        self._event = None
        self._data = []
