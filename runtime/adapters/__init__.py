"""The provider adapters, by the provider name agents are configured with.

"openai"            Chat Completions  upstream "openai", v1/chat/completions
"openai-responses"  Responses API     upstream "openai", v1/responses
"anthropic"         Messages API      upstream "anthropic", v1/messages
"openrouter"        Chat Completions  upstream "openrouter", api/v1/chat/completions
"""

from runtime.adapters.anthropic import AnthropicAdapter
from runtime.adapters.base import Adapter
from runtime.adapters.openai_chat import OpenAIChatAdapter
from runtime.adapters.openai_responses import OpenAIResponsesAdapter
from runtime.adapters.openrouter import OpenRouterAdapter

ADAPTERS: dict[str, Adapter] = {
    adapter.name: adapter
    for adapter in (
        OpenAIChatAdapter(),
        OpenAIResponsesAdapter(),
        AnthropicAdapter(),
        OpenRouterAdapter(),
    )
}


class UnknownProvider(ValueError):
    """An agent names a provider no adapter speaks."""


def adapter_for(provider: str) -> Adapter:
    try:
        return ADAPTERS[provider]
    except KeyError:
        known = ", ".join(sorted(ADAPTERS))
        raise UnknownProvider(f"unknown provider {provider!r}; known providers: {known}") from None


__all__ = ["ADAPTERS", "Adapter", "UnknownProvider", "adapter_for"]
