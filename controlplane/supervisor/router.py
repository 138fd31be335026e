"""`GET /v1/runtime/status`: is the streaming runtime up, and how has it been doing."""

from fastapi import APIRouter

from controlplane.http.deps import Authenticated
from controlplane.supervisor import service
from controlplane.supervisor.schemas import RuntimeStatus

router = APIRouter(prefix="/v1/runtime", tags=["runtime"])


@router.get("/status")
def runtime_status(ctx: Authenticated) -> RuntimeStatus:
    return service.runtime_status(ctx.app)
