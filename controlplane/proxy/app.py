"""The proxy as a lean ASGI app mounted at /proxy: no dependency injection on the hot path.

Per request: parse the route, verify the Gatehouse token, apply the workspace's policy (address,
upstream, scope, body size, model, open streams, rate limits), look up the provider key, then
stream the upstream answer back chunk by chunk as it arrives. Token, policy and key come from
epoch-guarded caches, so the warm path does no I/O unless the policy sets rate limits, which
are counted in the shared database so that they hold across processes. A client disconnect
cancels the upstream request; an upstream failure mid-stream ends the client's stream cleanly.
"""

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

import aiohttp
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from controlplane.access_log.records import sanitize_path
from controlplane.access_log.spool import SpoolUnavailableError
from controlplane.auth.credentials import credential_from
from controlplane.auth.principal import TokenGrant
from controlplane.auth.scopes import Scope as Grantable
from controlplane.config import Settings
from controlplane.container import Container
from controlplane.db import transaction
from controlplane.errors import (
    Conflict,
    Forbidden,
    GatehouseError,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)
from controlplane.http.errors import send_error
from controlplane.kit.clock import utcnow
from controlplane.kit.epoch_cache import EpochCache
from controlplane.observability import AUTH_FAILURES
from controlplane.policies import service as policies
from controlplane.policies.engine import EffectivePolicy
from controlplane.providers.schemas import ResolvedCredential
from controlplane.providers.service import resolve_credential
from controlplane.proxy.delegation import looks_delegated
from controlplane.proxy.exchange import Exchange
from controlplane.proxy.forwarding import request_headers, response_headers
from controlplane.proxy.upstreams import RUNTIME, Upstream, upstreams
from controlplane.proxy.usage import UsageReader

PREFIX = "/proxy/"
OVERHEAD_HEADER = b"x-gatehouse-overhead-ms"


class BadGateway(GatehouseError):
    status_code = 502
    code = "upstream_unreachable"


class GatewayTimeout(GatehouseError):
    status_code = 504
    code = "upstream_timeout"


class ProxyApp:
    def __init__(self) -> None:
        self._client: aiohttp.ClientSession | None = None
        self._routes: tuple[Settings, dict[str, Upstream]] | None = None

    def _upstreams(self, settings: Settings) -> dict[str, Upstream]:
        # Built once per settings object rather than on every request (the hot path).
        if self._routes is None or self._routes[0] is not settings:
            self._routes = (settings, upstreams(settings))
        return self._routes[1]

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use, inside the server's event loop. aiohttp's pool holds up under
        # proxy-level concurrency where httpx's does not (see the README's figures).
        if self._client is None:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            )
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        container: Container = scope["app"].state.container
        request_id: str = scope["state"]["request_id"]
        query = scope.get("query_string", b"").decode("latin-1")
        exchange = Exchange(
            started=time.perf_counter(),
            ts=utcnow(),
            request_id=request_id,
            method=scope["method"],
            path=sanitize_path(f"{scope['path']}?{query}" if query else scope["path"]),
            client_ip=scope["client"][0] if scope.get("client") else None,
            user_agent=_header(scope, b"user-agent"),
        )
        started_response = False

        async def tracked_send(message: Message) -> None:
            nonlocal started_response
            started_response = started_response or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._handle(container, scope, receive, tracked_send, request_id, exchange)
        except GatehouseError as error:
            if isinstance(error, Unauthenticated):
                AUTH_FAILURES.labels(error.reason).inc()
            exchange.status = error.status_code
            if not exchange.begun:
                error = _log_denial(container, exchange, error)
            else:
                exchange.error = error.code
            if not started_response:
                await send_error(send, error, request_id)
        finally:
            if exchange.begun and not exchange.finished:
                _log_finish(container, exchange)

    async def _handle(
        self,
        container: Container,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        exchange: Exchange,
    ) -> None:
        name, _, rest = scope["path"].removeprefix(PREFIX).partition("/")
        upstream = self._upstreams(container.settings).get(name)
        if upstream is None:
            raise NotFound("no such upstream")
        grant, delegated = await _authenticate(
            container, credential_from(scope["headers"]), exchange.client_ip, name
        )
        exchange.grant, exchange.upstream = grant, name
        if grant.workspace_id is None:
            raise Forbidden("the proxy takes workspace tokens", code="workspace_token_required")
        policy = await _cached(
            container.policy_cache,
            (grant.workspace_id, grant.agent_id),
            _load_policy,
            container,
        )
        _authorize(policy, grant, name, exchange.client_ip, delegated)
        body = await _read_body(receive, policy.body_limit(container.settings.proxy_max_body_bytes))
        exchange.bytes_in = len(body)
        exchange.model = _model_of(body)
        # A run names no model: the runtime's own model calls come back here and are checked.
        if name != RUNTIME and not policy.model_allowed(exchange.model):
            raise Forbidden(
                f"the model {exchange.model!r} is not allowed by this workspace's policy",
                code="model_not_allowed",
            )
        if not container.streams.acquire(grant.token_id, policy.max_streams_per_token):
            raise GatehouseError(
                f"this token already has {policy.max_streams_per_token} open requests",
                429,
                "too_many_streams",
            )
        try:
            if policy.rate_limited:
                exchange.admission = await run_in_threadpool(_admit, container, policy, grant)
            if name == RUNTIME:
                credential = _runtime_credential(container, grant)
            else:
                credential = await _cached(
                    container.credential_cache,
                    (grant.workspace_id, grant.agent_id, upstream.name),
                    _load_credential,
                    container,
                )
            # Fails closed: if the record cannot be spooled, nothing is forwarded (503).
            container.spool.begin(exchange.record("allow"))
            exchange.begun = True
            await self._forward(
                container,
                scope,
                receive,
                send,
                request_id,
                upstream,
                rest,
                body,
                credential,
                exchange,
            )
        finally:
            container.streams.release(grant.token_id)

    async def _forward(
        self,
        container: Container,
        scope: Scope,
        receive: Receive,
        send: Send,
        request_id: str,
        upstream: Upstream,
        rest: str,
        body: bytes,
        credential: ResolvedCredential,
        exchange: Exchange,
    ) -> None:
        url = f"{(credential.base_url or upstream.base_url).rstrip('/')}/{rest}"
        query = scope.get("query_string", b"").decode("latin-1")
        settings = container.settings
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=settings.proxy_connect_timeout_seconds,
            sock_read=settings.proxy_read_timeout_seconds,
        )
        headers = request_headers(
            scope["headers"], upstream.auth_header(credential.api_key), request_id
        )
        before_upstream = time.perf_counter()
        try:
            response = await self._http().request(
                scope["method"],
                f"{url}?{query}" if query else url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            )
        except TimeoutError as error:
            raise GatewayTimeout("the upstream did not answer in time") from error
        except aiohttp.ClientError as error:
            raise BadGateway("the upstream could not be reached") from error
        overhead_ms = (before_upstream - exchange.started) * 1000
        exchange.status = response.status
        content_type = response.headers.get("content-type", "")
        exchange.streamed = content_type.startswith("text/event-stream")
        usage = UsageReader(streamed=exchange.streamed)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    *response_headers(response.headers.items()),
                    (OVERHEAD_HEADER, f"{overhead_ms:.3f}".encode()),
                ],
            }
        )

        async def complete() -> None:
            # Before the last byte goes out, so a caller that saw the end of its response can
            # rely on its record existing, and on its tokens counting toward the next request.
            used = exchange.take_usage(usage)
            if exchange.admission is not None and exchange.admission.subjects and used:
                await run_in_threadpool(_spend, container, exchange.admission, used)
            _log_finish(container, exchange)

        relay = asyncio.ensure_future(
            _relay(response, send, usage, exchange, response.content_length, complete)
        )
        disconnect = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait({relay, disconnect}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not relay.done():
                # The caller went away: stop reading, and drop the upstream connection so the
                # provider stops generating (and billing) at once.
                relay.cancel()
                exchange.error = "client disconnected"
                response.close()
            disconnect.cancel()
            response.release()
        relayed = relay.done() and not relay.cancelled()
        if relayed and relay.exception() is not None:
            # Sending to the caller failed: it went away between two chunks.
            exchange.error, relayed = "client disconnected", False
        if relayed:
            if not exchange.finished:  # a sized body was completed before its last chunk
                await complete()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif not exchange.finished:
            exchange.take_usage(usage)  # what was read; the record is finished on the way out


def _log_denial(container: Container, exchange: Exchange, error: GatehouseError) -> GatehouseError:
    """Denials are recorded too. If even that cannot be spooled, the answer becomes the 503.

    A refused credential is recorded with why (`unauthenticated:revoked`, `:unknown`, …) and,
    when it was a real token, whose; the caller's answer is the same 401 whatever the cause."""
    if isinstance(error, Unauthenticated):
        record = exchange.record(
            "deny", reason=f"unauthenticated:{error.reason}", refused=error.grant
        )
    else:
        record = exchange.record("deny", reason=error.code)
    try:
        container.spool.begin(record)
        container.spool.finish(record)
    except SpoolUnavailableError as unavailable:
        return unavailable
    return error


def _log_finish(container: Container, exchange: Exchange) -> None:
    exchange.finished = True
    try:
        container.spool.finish(exchange.record("allow"))
    except SpoolUnavailableError:
        # The response is already out; the begin line holds the request, and replay marks it
        # incomplete. The spool logs the outage itself.
        return


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _authenticate(
    container: Container, raw: str | None, client_ip: str | None, upstream: str
) -> tuple[TokenGrant, bool]:
    """The caller's grant, and whether it reached us delegated: a run's model call, made by
    the runtime with the credential the proxy gave it for that run."""
    if not raw:
        raise Unauthenticated("missing")
    verifier = container.verifier
    if looks_delegated(raw):
        if upstream == RUNTIME:
            raise Unauthenticated("invalid")  # runs start only from a caller's own token
        claims = container.runtime_signer.verify(raw)
        grant = verifier.delegated_without_io(claims.token_id)
        if grant is None:
            grant = await run_in_threadpool(verifier.verify_delegated, claims.token_id)
        return grant, True
    grant = verifier.verify_without_io(raw, client_ip)
    if grant is None:
        grant = await run_in_threadpool(verifier.verify, raw, client_ip)
    return grant, False


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


async def _cached(
    cache: EpochCache[K, V], key: K, load: Callable[[Container, K], V], container: Container
) -> V:
    """The warm path answers from the cache with no I/O; a miss loads in the threadpool."""
    found = cache.get(key)
    if found is not None:
        return found
    generation = cache.generation  # read before loading: a change meanwhile discards the load
    loaded = await run_in_threadpool(load, container, key)
    cache.put(key, loaded, generation)
    return loaded


def _load_policy(container: Container, key: tuple[str, str | None]) -> EffectivePolicy:
    with transaction(container.session_factory, read_only=True) as session:
        return policies.load_effective(session, *key)


def _load_credential(container: Container, key: tuple[str, str | None, str]) -> ResolvedCredential:
    workspace_id, agent_id, provider = key
    with transaction(container.session_factory, read_only=True) as session:
        found = resolve_credential(session, container, workspace_id, agent_id, provider)
    if found is None:
        raise Conflict(
            f"no {provider} credential is configured for this workspace",
            code="provider_not_configured",
        )
    return found


def _runtime_credential(container: Container, grant: TokenGrant) -> ResolvedCredential:
    """The runtime gets a signed stand-in for the caller's token, never the token itself."""
    minted = container.runtime_signer.mint_for(grant)
    return ResolvedCredential(RUNTIME, minted, None, grant.agent_id, "runtime-credential")


def _authorize(
    policy: EffectivePolicy,
    grant: TokenGrant,
    upstream: str,
    client_ip: str | None,
    delegated: bool,
) -> None:
    """The policy's checks that need no request body. Each denial names its reason. A
    delegated call comes from the runtime: its caller's address was checked when the run began."""
    if not delegated and not policy.address_allowed(client_ip):
        raise Forbidden("this workspace's policy refuses this address", code="ip_not_allowed")
    if not policy.upstream_allowed(upstream):
        raise Forbidden(
            f"this workspace's policy does not allow {upstream}", code="upstream_not_allowed"
        )
    # A run's model calls are authorized by the scope that started the run.
    runtime_call = upstream == RUNTIME or delegated
    required = Grantable.RUNTIME_INVOKE if runtime_call else policy.required_scope
    required = required or Grantable.PROXY_INVOKE
    if required not in grant.scopes:
        raise Forbidden(f"this token lacks the {required} scope", code="scope_missing")


def _admit(container: Container, policy: EffectivePolicy, grant: TokenGrant) -> policies.Admission:
    # Its own short transaction: a refusal rolls back any count already taken.
    with transaction(container.session_factory) as session:
        return policies.admit(session, policy, grant)


def _spend(container: Container, admission: policies.Admission, tokens: int) -> None:
    with transaction(container.session_factory) as session:
        policies.spend(session, admission, tokens)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatehouseError("the client went away", 499, "client_closed_request")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes", code="body_too_large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _model_of(body: bytes) -> str | None:
    try:
        document = json.loads(body) if body else None
    except ValueError:
        return None
    model = document.get("model") if isinstance(document, dict) else None
    return model if isinstance(model, str) else None


async def _relay(
    response: aiohttp.ClientResponse,
    send: Send,
    usage: UsageReader,
    exchange: Exchange,
    length: int | None,
    complete: Callable[[], Awaitable[None]],
) -> None:
    """Forward chunks as they arrive. With a Content-Length, the caller knows its response is
    whole at the last chunk, so the record is completed just before that chunk goes out; a
    chunked or streamed body is whole only at the terminating chunk, sent after the relay."""
    try:
        async for chunk in response.content.iter_any():
            if exchange.ttfb_ms is None:
                exchange.ttfb_ms = (time.perf_counter() - exchange.started) * 1000
            exchange.bytes_out += len(chunk)
            usage.feed(chunk)
            if length is not None and exchange.bytes_out >= length:
                await complete()
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except (aiohttp.ClientError, TimeoutError) as error:
        # Mid-stream failure: the status line is long gone, so end the stream cleanly and
        # record what happened.
        exchange.error = f"upstream failed mid-stream: {type(error).__name__}"


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
