"""Liveness, readiness and Prometheus metrics."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from controlplane.db import READ_ONLY
from controlplane.errors import ServiceUnavailable
from controlplane.http.deps import ContainerDep, MetricsRead

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up. Says nothing about its dependencies; see /readyz."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(container: ContainerDep) -> dict[str, str]:
    try:
        with container.engine.connect() as connection:
            connection.execution_options(**{READ_ONLY: True}).execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        raise ServiceUnavailable("database unreachable") from error
    return {"status": "ready"}


@router.get("/metrics")
def metrics(_ctx: MetricsRead) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
