"""Where a caller's credential is read from, for the API and the proxy alike."""

from collections.abc import Iterable


def credential_from(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """`Authorization: Bearer …` (OpenAI, OpenRouter, Anthropic SDK 2.x) or `x-api-key`
    (older Anthropic SDKs). Another Authorization scheme yields "" (present but unusable)."""
    api_key = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else ""
        if name == b"x-api-key":
            api_key = value.decode("latin-1").strip()
    return api_key
