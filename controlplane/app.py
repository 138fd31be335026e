"""`create_app()`: mounts routers, middleware and the error handler around one Container."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from controlplane.access_log.router import router as access_log_router
from controlplane.agent_runtime.router import router as agent_runtime_router
from controlplane.anomaly.jobs import AnomalySchedule
from controlplane.anomaly.router import router as anomaly_router
from controlplane.audit_events.router import router as audit_router
from controlplane.audit_runs.router import IMPORT_SUFFIX
from controlplane.audit_runs.router import router as audit_runs_router
from controlplane.audit_runs.scheduler import AuditSchedule
from controlplane.auth.router import router as auth_router
from controlplane.container import Container
from controlplane.http import errors
from controlplane.http.middleware import RequestContextMiddleware
from controlplane.http.system import router as system_router
from controlplane.identity.router import router as identity_router
from controlplane.policies.router import router as policies_router
from controlplane.providers.router import router as providers_router
from controlplane.proxy.app import ProxyApp
from controlplane.supervisor.router import router as runtime_status_router
from controlplane.tokens.router import router as tokens_router

PROXY_PREFIX = "/proxy"
ROUTERS = (
    system_router,
    auth_router,
    identity_router,
    tokens_router,
    audit_router,
    access_log_router,
    providers_router,
    policies_router,
    agent_runtime_router,
    runtime_status_router,
    audit_runs_router,
    anomaly_router,
)

# Routes reachable without a credential. tests/controlplane/test_routes.py fails on any other
# route that lacks a `Require` dependency.
PUBLIC_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/v1/auth/login",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
)


def create_app(container: Container, *, background: bool = True) -> FastAPI:
    proxy = ProxyApp()
    audits = AuditSchedule(container)
    anomalies = AnomalySchedule(container)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime = container.runtime
        if runtime is not None:
            # First: a broken runtime key fails start-up before anything else needs stopping.
            # Settings decide this, not `background` (test settings leave it off).
            await runtime.start()
        if background:
            container.maintenance.start()
            container.flusher.start()
            container.retention.start()
            audits.start()
            anomalies.start()
        try:
            yield
        finally:
            await proxy.aclose()
            if runtime is not None:
                await runtime.stop()
            if background:
                anomalies.stop()
                audits.stop()
                container.retention.stop()
                # After the proxy stops taking requests, so the last records are flushed too.
                container.flusher.stop()
                container.maintenance.stop()

    app = FastAPI(
        title="Gatehouse",
        version="0.1.0",
        description="Security and operations control plane for agent platforms.",
        lifespan=lifespan,
    )
    app.state.container = container
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    # The proxy authenticates and authorizes inside its own lean ASGI code (controlplane/proxy);
    # the middleware hands it /proxy/ requests before FastAPI's routing.
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=container.settings.max_body_bytes,
        proxy=proxy,
        proxy_prefix=PROXY_PREFIX + "/",
        larger_bodies={IMPORT_SUFFIX: container.settings.audit_import_max_bytes},
    )
    return app
