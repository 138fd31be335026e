"""Where a model turn's events come from: the local provider in-process, any other provider
through the Gatehouse proxy.

The runtime holds no provider keys: it presents the run's own credential to
`/proxy/<upstream>/...`, and the proxy authorizes, adds the key and logs the call as the
caller's token's.

One aiohttp session per process, created on first use inside the running loop: its pool holds
up under concurrency (see the proxy's figures in the README).
"""

import logging
from collections.abc import AsyncGenerator

import aiohttp

from controlplane.config import Settings
from runtime import local
from runtime.adapters import UnknownProvider, adapter_for
from runtime.adapters.base import Adapter
from runtime.contract import Error, ErrorCode, EventBase, RunFinish
from runtime.conversation import ModelCall

log = logging.getLogger(__name__)


def _failure(code: ErrorCode, message: str, *, retryable: bool) -> list[EventBase]:
    # after_first_token is set by the run's Sequencer, from what the run really sent.
    error = Error(code=code, message=message, retryable=retryable, after_first_token=False)
    return [error, RunFinish(finish_reason="error")]


def model_turn(
    upstream: "UpstreamClient",
    call: ModelCall,
    turn: int,
    credential: str,
    default_pacing_ms: float,
) -> AsyncGenerator[EventBase, None]:
    """One model turn's events (no envelope), ending with exactly one `run.finish`."""
    if call.provider == local.PROVIDER:
        pacing = call.parameters.get("pacing_ms")
        if not isinstance(pacing, int | float) or isinstance(pacing, bool) or pacing < 0:
            pacing = default_pacing_ms
        return local.local_turn(call, turn, pacing / 1000)
    try:
        adapter = adapter_for(call.provider)
    except UnknownProvider:
        return _replay(
            Error(
                code="invalid_request",
                message=f"the agent's provider {call.provider!r} is not supported",
                retryable=False,
                after_first_token=False,
            ),
            RunFinish(finish_reason="error"),
        )
    return upstream.turn(adapter, call, turn, credential)


async def _replay(*events: EventBase) -> AsyncGenerator[EventBase, None]:
    for event in events:
        yield event


class UpstreamClient:
    def __init__(self, settings: Settings) -> None:
        self._base = settings.resolved_runtime_proxy_url
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=settings.proxy_connect_timeout_seconds,
            # Between two reads, not for the whole answer: long generations are normal.
            sock_read=settings.proxy_read_timeout_seconds,
        )
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def turn(
        self, adapter: Adapter, call: ModelCall, turn: int, credential: str
    ) -> AsyncGenerator[EventBase, None]:
        """One model turn's events (no envelope), ending with exactly one `run.finish`.
        Cancelling the consumer closes the connection, so the provider stops generating."""
        request = adapter.build_request(call)
        url = f"{self._base}/proxy/{request.upstream}/{request.path.lstrip('/')}"
        headers = {
            **request.headers,
            "content-type": "application/json",
            "authorization": f"Bearer {credential}",
        }
        try:
            response = await self._http().post(
                url, json=request.body, headers=headers, timeout=self._timeout
            )
        except TimeoutError:
            for event in _failure("timeout", "the model call timed out", retryable=True):
                yield event
            return
        except aiohttp.ClientError as error:
            # The type only: messages can carry URLs and headers.
            log.warning("model call to %s failed: %s", request.upstream, type(error).__name__)
            for event in _failure(
                "upstream_unreachable", "the Gatehouse proxy could not be reached", retryable=True
            ):
                yield event
            return
        completed = False
        try:
            if response.status >= 300:
                body = await response.read()
                for event in adapter.error_from_status(response.status, body):
                    yield event
            else:
                async for event in _decode(adapter, turn, response):
                    yield event
            completed = True
        finally:
            if completed:
                response.release()
            else:
                # Cancelled or failed mid-stream: drop the connection rather than drain it.
                response.close()


async def _decode(
    adapter: Adapter, turn: int, response: aiohttp.ClientResponse
) -> AsyncGenerator[EventBase, None]:
    decoder = adapter.decoder(turn)
    try:
        async for chunk in response.content.iter_any():
            for event in decoder.feed(chunk):
                yield event
    except TimeoutError:
        failure = _failure("timeout", "the model stopped sending mid-stream", retryable=True)
    except aiohttp.ClientError as error:
        log.warning("model stream broke: %s", type(error).__name__)
        failure = _failure(
            "upstream_unreachable", "the connection to the model broke mid-stream", retryable=True
        )
    else:
        for event in decoder.close():
            yield event
        return
    for event in failure:
        yield event
