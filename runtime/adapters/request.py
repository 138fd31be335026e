"""Helpers every adapter's `build_request` shares."""

import json
from typing import Any

from runtime.conversation import ModelCall

# The fields an adapter owns: an agent's parameters may tune sampling, never redirect the call.
RESERVED = frozenset({"model", "messages", "input", "stream", "tools", "system", "instructions"})


def with_parameters(call: ModelCall, body: dict[str, Any]) -> dict[str, Any]:
    """The agent's parameters (temperature, top_p, max_tokens, ...) under the adapter's body."""
    merged = {key: value for key, value in call.parameters.items() if key not in RESERVED}
    merged.update(body)
    return merged


def arguments_json(arguments: dict[str, Any]) -> str:
    """Tool arguments as the JSON string OpenAI-shaped APIs expect back in the history."""
    return json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
