"""How the benchmark's own servers run: the same uvicorn stack Gatehouse gets from `serve`.

`gatehouse serve` calls `uvicorn.run` with `http="auto"` and `loop="auto"`, which pick httptools
and uvloop when they are installed (both come with `uvicorn[standard]`). The stub and the bare
pass-through ask for them explicitly, so all three servers parse HTTP and schedule the same way.
Access logging is off everywhere: the benchmark starts Gatehouse with GATEHOUSE_LOG_LEVEL=WARNING,
which silences uvicorn's access log (it logs at INFO), and these two pass `access_log=False`.
"""

import importlib.util
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


def loop_name() -> Literal["uvloop", "asyncio"]:
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def http_name() -> Literal["httptools", "h11"]:
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def run_uvicorn(app: ASGIApp, port: int, lifespan: Literal["on", "off"]) -> None:
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http=http_name(),
        loop=loop_name(),
        lifespan=lifespan,
        access_log=False,
        log_level="warning",
        server_header=False,
        # Room for the 1,000-streams burst; Gatehouse keeps uvicorn's default (2048), also enough.
        backlog=2048,
        # Streams the bare proxy still relays for callers that left would hold a graceful
        # shutdown open until the stub ends them; nothing is left to measure by then.
        timeout_graceful_shutdown=1,
    )
