"""What every provider adapter provides. Adapters are the only place where providers differ.

An adapter builds the provider request for one model turn and decodes the provider's byte
stream into contract events *without* their envelope (`run_id`, `seq`, `ts` are stamped by the
run). A decoder's output for one turn:

- block events (`text.*`, `reasoning.*`, `tool_call.*`) with ids from `block_id(turn, n)`,
  every block closed before the turn ends;
- `usage` events as the provider reports them (`cumulative` says how to add them up);
- on a provider failure, `error` (classified by the error's type, never by HTTP status alone);
- exactly one `run.finish` as its last event, carrying the turn's finish reason, the native
  reason and the turn's final token totals. A stream that ends without a finish signal gives
  `error(code="truncated")` then `run.finish(finish_reason="error")` from `close()`.

The run decides whether a turn's `run.finish` ends the run (it may continue after tool calls).
"""

from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.contract import EventBase
from runtime.conversation import ModelCall


def block_id(turn: int, n: int) -> str:
    """Stable, unique within a run: the turn number and the block's position in that turn."""
    return f"blk_{turn}_{n}"


@dataclass(frozen=True)
class UpstreamRequest:
    upstream: str  # the proxy route: "openai", "anthropic" or "openrouter"
    path: str  # after the upstream's base URL, e.g. "v1/chat/completions"
    body: dict[str, Any]
    # Provider-specific headers (e.g. anthropic-version). Never a key: the proxy adds those.
    headers: dict[str, str] = field(default_factory=dict)


class StreamDecoder(Protocol):
    def feed(self, data: bytes) -> list[EventBase]:
        """Decode the next bytes; chunk boundaries fall anywhere, even inside a UTF-8 char."""
        ...

    def close(self) -> list[EventBase]:
        """The stream ended: close open blocks and, with no finish seen, report truncation."""
        ...


class Adapter(Protocol):
    name: str  # the provider name agents are configured with, e.g. "openai"

    def build_request(self, call: ModelCall) -> UpstreamRequest: ...

    def decoder(self, turn: int) -> StreamDecoder: ...

    def error_from_status(self, status: int, body: bytes) -> list[EventBase]:
        """A refusal before any token (non-2xx): `error` then `run.finish(error)`."""
        ...
