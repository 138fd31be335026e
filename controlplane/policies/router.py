"""Proxy policy over HTTP: the workspace default and per-agent overrides."""

from fastapi import APIRouter

from controlplane.http.deps import PolicyRead, PolicyWrite
from controlplane.policies import service
from controlplane.policies.engine import EffectivePolicy
from controlplane.policies.schemas import EffectivePolicyOut, PolicyOut, PolicyRules

router = APIRouter(prefix="/v1/workspaces/{workspace_id}", tags=["policy"])

AGENT = "/agents/{agent_id}/policy"


def _effective(
    workspace_id: str, agent_id: str | None, policy: EffectivePolicy
) -> EffectivePolicyOut:
    return EffectivePolicyOut.model_validate(
        {"workspace_id": workspace_id, "agent_id": agent_id, **policy.as_dict()}
    )


@router.get("/policies", response_model=list[PolicyOut])
def list_policies(workspace_id: str, ctx: PolicyRead) -> list[PolicyOut]:
    return [PolicyOut.model_validate(row) for row in service.list_policies(ctx, workspace_id)]


@router.get("/policy", response_model=PolicyOut)
def get_workspace_policy(workspace_id: str, ctx: PolicyRead) -> PolicyOut:
    return PolicyOut.model_validate(service.get_policy(ctx, workspace_id, None))


@router.put("/policy", response_model=PolicyOut)
def set_workspace_policy(workspace_id: str, body: PolicyRules, ctx: PolicyWrite) -> PolicyOut:
    return PolicyOut.model_validate(service.set_policy(ctx, workspace_id, None, body))


@router.delete("/policy", status_code=204)
def delete_workspace_policy(workspace_id: str, ctx: PolicyWrite) -> None:
    service.delete_policy(ctx, workspace_id, None)


@router.get(AGENT, response_model=PolicyOut)
def get_agent_policy(workspace_id: str, agent_id: str, ctx: PolicyRead) -> PolicyOut:
    return PolicyOut.model_validate(service.get_policy(ctx, workspace_id, agent_id))


@router.put(AGENT, response_model=PolicyOut)
def set_agent_policy(
    workspace_id: str, agent_id: str, body: PolicyRules, ctx: PolicyWrite
) -> PolicyOut:
    return PolicyOut.model_validate(service.set_policy(ctx, workspace_id, agent_id, body))


@router.delete(AGENT, status_code=204)
def delete_agent_policy(workspace_id: str, agent_id: str, ctx: PolicyWrite) -> None:
    service.delete_policy(ctx, workspace_id, agent_id)


@router.get("/policy/effective", response_model=EffectivePolicyOut)
def workspace_effective(workspace_id: str, ctx: PolicyRead) -> EffectivePolicyOut:
    return _effective(workspace_id, None, service.effective_policy(ctx, workspace_id, None))


@router.get(AGENT + "/effective", response_model=EffectivePolicyOut)
def agent_effective(workspace_id: str, agent_id: str, ctx: PolicyRead) -> EffectivePolicyOut:
    return _effective(workspace_id, agent_id, service.effective_policy(ctx, workspace_id, agent_id))
