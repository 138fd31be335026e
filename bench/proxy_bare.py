"""The bare pass-through: the least a Python reverse proxy on this stack can do per request.

    .venv/bin/python -m bench.proxy_bare --port P --upstream http://127.0.0.1:STUB

Same runtime as Gatehouse (uvicorn + httptools + uvloop, raw ASGI) and the same upstream client
configured the same way (one aiohttp ClientSession, TCPConnector(limit=0), auto_decompress=False).
No authentication, no policy, no access log, no disconnect watcher: read the body, forward it,
relay the answer chunk by chunk (`iter_any`) as it arrives. Whatever Gatehouse costs beyond
this is the price of what it does; this is the physical limit for a Python proxy here.
"""

import argparse
from collections.abc import Sequence

import aiohttp
from starlette.types import Receive, Scope, Send

from bench.proxy_servers import run_uvicorn

# Hop-by-hop headers (RFC 9110 §7.6.1) and those aiohttp sets itself.
_DROP_REQUEST = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"upgrade", b"host", b"content-length"}
)
_DROP_RESPONSE = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})


class BareProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self._client: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name not in _DROP_REQUEST
        }
        query = scope["query_string"].decode("latin-1")
        url = f"{self.upstream}{scope['path']}" + (f"?{query}" if query else "")
        if self._client is None:
            raise RuntimeError("the client is created at lifespan startup")
        response = await self._client.request(
            scope["method"], url, data=body, headers=headers, allow_redirects=False
        )
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [
                        (name.lower().encode("latin-1"), value.encode("latin-1"))
                        for name, value in response.headers.items()
                        if name.lower() not in _DROP_RESPONSE
                    ],
                }
            )
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            response.release()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Inside the server's event loop, as Gatehouse creates its client on first use.
                self._client = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                    auto_decompress=False,
                    skip_auto_headers=("User-Agent",),
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.proxy_bare")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the stub's base URL")
    options = parser.parse_args(argv)
    run_uvicorn(BareProxy(options.upstream), options.port, lifespan="on")


if __name__ == "__main__":
    main()
