"""The runtime's HTTP app: `create_app()` and its routes.

The runtime listens on loopback; the control plane fronts it and mints the credential every
route but `/healthz` and `/metrics` requires (`runtime.trust`). The runtime never migrates the
database: the control plane does, before it starts the runtime.
"""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache, partial
from importlib import metadata
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import Session

from controlplane.config import Settings, get_settings
from controlplane.db import make_engine, make_session_factory
from controlplane.http import errors
from controlplane.kit.ids import new_id
from controlplane.observability import configure_logging, init_sentry
from runtime import memory, service, waiting
from runtime.contract import CONTRACT_VERSION
from runtime.engine import Run, RunSpec, Runtime
from runtime.responses import RequestContext, RunResponse, wire_for
from runtime.schemas import (
    Health,
    MemoryList,
    MemoryOut,
    RunOut,
    RunRequest,
    ToolResultsAccepted,
    ToolResultsRequest,
)
from runtime.service import in_transaction
from runtime.trust import CallerDep, load_key
from runtime.upstream import UpstreamClient

PUBLIC_PATHS = frozenset({"/healthz", "/metrics"})


@cache
def _version() -> str:
    try:
        return metadata.version("gatehouse")
    except metadata.PackageNotFoundError:
        return CONTRACT_VERSION


def create_app(
    settings: Settings | None = None, session_factory: Callable[[], Session] | None = None
) -> FastAPI:
    """The runtime's app. Without settings it is the served process (`runtime.server`, one
    call per worker): settings come from the environment, and logging and Sentry are set up
    here because each worker is a fresh interpreter."""
    if settings is None:
        settings = get_settings()
        configure_logging(settings)
        init_sentry(settings)
    engine = None
    if session_factory is None:
        engine = make_engine(settings.resolved_database_url)
        session_factory = make_session_factory(engine)
    runtime = Runtime(
        settings=settings,
        session_factory=session_factory,
        trust_key=load_key(settings.runtime_trust_key_path),
        upstream=UpstreamClient(settings),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await runtime.upstream.aclose()
            if engine is not None:
                engine.dispose()

    app = FastAPI(
        title="Gatehouse runtime",
        version=_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = runtime
    app.state.trust_key = runtime.trust_key
    errors.install(app)
    app.include_router(router)
    app.add_middleware(RequestContext, max_body_bytes=settings.proxy_max_body_bytes)
    return app


async def get_runtime(request: Request) -> Runtime:
    # Async: a plain function dependency would cost a threadpool hop on every request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
router = APIRouter()


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok", version=_version(), contract_version=CONTRACT_VERSION)


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/runs", response_model=None)
async def start_run(
    request: Request,
    body: RunRequest,
    caller: CallerDep,
    runtime: RuntimeDep,
    accept: Annotated[str | None, Header()] = None,
) -> RunResponse:
    received: float = getattr(request.state, "received", time.perf_counter())
    plan = await in_transaction(
        runtime.session_factory,
        partial(service.plan_run, claims=caller.claims, requested=body.agent_id),
        read_only=True,
    )
    spec = RunSpec(
        run_id=new_id("run"),
        caller=caller,
        agent=plan,
        messages=body.messages,
        tools=body.tools,
        stream=body.stream,
        received=received,
    )
    return RunResponse(Run(runtime, spec), wire_for(accept, stream=body.stream))


@router.post("/v1/runs/{run_id}/tool-results", status_code=202)
async def submit_tool_results(
    run_id: str, body: ToolResultsRequest, caller: CallerDep, runtime: RuntimeDep
) -> ToolResultsAccepted:
    accepted = await waiting.submit(
        runtime.live, runtime.session_factory, caller.claims, run_id, body.results
    )
    return ToolResultsAccepted(run_id=run_id, accepted=accepted)


@router.get("/v1/runs/{run_id}")
async def get_run(run_id: str, caller: CallerDep, runtime: RuntimeDep) -> RunOut:
    row = await in_transaction(
        runtime.session_factory,
        partial(service.visible_run, claims=caller.claims, run_id=run_id),
        read_only=True,
    )
    return RunOut.model_validate(row)


@router.get("/v1/agents/{agent_id}/memories")
async def list_memories(
    agent_id: str,
    caller: CallerDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> MemoryList:
    rows = await in_transaction(
        runtime.session_factory,
        partial(memory.list_for, claims=caller.claims, agent_ref=agent_id, limit=limit),
        read_only=True,
    )
    return MemoryList(items=[MemoryOut.model_validate(row) for row in rows])
