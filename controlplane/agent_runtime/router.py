"""An agent's runtime settings over HTTP."""

from fastapi import APIRouter

from controlplane.agent_runtime import service
from controlplane.agent_runtime.schemas import AgentRuntimeIn, AgentRuntimeOut
from controlplane.http.deps import AgentsRead, AgentsWrite

router = APIRouter(
    prefix="/v1/workspaces/{workspace_id}/agents/{agent_id}/runtime", tags=["agents"]
)


@router.get("", response_model=AgentRuntimeOut)
def get_runtime_settings(workspace_id: str, agent_id: str, ctx: AgentsRead) -> AgentRuntimeOut:
    return service.get_settings(ctx, workspace_id, agent_id)


@router.put("", response_model=AgentRuntimeOut)
def set_runtime_settings(
    workspace_id: str, agent_id: str, body: AgentRuntimeIn, ctx: AgentsWrite
) -> AgentRuntimeOut:
    return service.set_settings(ctx, workspace_id, agent_id, body)
