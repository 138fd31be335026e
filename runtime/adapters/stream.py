"""The part of every decoder that is the same: bytes → SSE events → JSON documents → a turn.

Subclasses see one parsed JSON object at a time (with its SSE event name, if any) and drive
the turn's `TurnEvents`. Once the turn has ended (a finish or an error), anything the provider
still sends is ignored, so a decoder never emits after its `run.finish`.
"""

import json
from abc import ABC, abstractmethod
from typing import Any

from runtime.adapters.turn import TurnEvents
from runtime.contract import EventBase
from runtime.sse import SseEvent, SseParser


class SseJsonDecoder(ABC):
    def __init__(self, turn: int) -> None:
        self.turn = TurnEvents(turn)
        self._parser = SseParser()

    def feed(self, data: bytes) -> list[EventBase]:
        for event in self._parser.feed(data):
            self._handle(event)
        return self.turn.drain()

    def close(self) -> list[EventBase]:
        for event in self._parser.close():
            self._handle(event)
        self.turn.end_of_stream()
        return self.turn.drain()

    def _handle(self, event: SseEvent) -> None:
        if self.turn.done:
            return
        data = event.data.strip()
        if data == "[DONE]":
            self.on_done()
            return
        try:
            document = json.loads(data)
        except ValueError:
            # Not JSON and not a comment: a keep-alive some servers send as `data:`. Nothing in
            # it can be an answer, and failing the turn over it would lose a good answer.
            return
        if isinstance(document, dict):
            self.on_document(event.event, document)

    def on_done(self) -> None:
        """OpenAI's `[DONE]`: the stream is over (other providers never send it)."""
        self.turn.complete()

    @abstractmethod
    def on_document(self, name: str | None, document: dict[str, Any]) -> None: ...


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def dict_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
