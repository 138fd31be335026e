"""What crosses the proxy: which request headers go upstream, which response headers come back."""

from collections.abc import Iterable

# Hop-by-hop headers (RFC 9110 §7.6.1) plus what the proxy itself decides: the caller's
# Gatehouse credential never leaves, the provider key is injected, bodies are sent uncompressed
# so usage can be read on the side, and cookies are never exchanged with providers.
_DROP_REQUEST = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "trailers", "transfer-encoding", "upgrade", "host", "content-length",
        "authorization", "x-api-key", "accept-encoding", "cookie", "x-request-id",
    }
)  # fmt: skip
_DROP_RESPONSE = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "transfer-encoding", "upgrade",
        "set-cookie", "x-request-id", "server", "date",
    }
)  # fmt: skip


def request_headers(
    incoming: Iterable[tuple[bytes, bytes]], auth: tuple[str, str], request_id: str
) -> dict[str, str]:
    headers = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in incoming
        if name.decode("latin-1").lower() not in _DROP_REQUEST
    }
    headers[auth[0]] = auth[1]
    headers["accept-encoding"] = "identity"
    # Providers log it too, which lets one request be followed end to end.
    headers["x-request-id"] = request_id
    return headers


def response_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in upstream
        if name.lower() not in _DROP_RESPONSE
    ]
