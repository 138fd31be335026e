"""Which provider, model and parameters an agent runs with. Read by the runtime per run, so a
change applies to the next run; the key for the provider is stored separately (providers)."""

from controlplane.agent_runtime import repository
from controlplane.agent_runtime.models import DEFAULT_MODEL, DEFAULT_PROVIDER, AgentRuntimeConfig
from controlplane.agent_runtime.schemas import AgentRuntimeIn, AgentRuntimeOut
from controlplane.audit_events import service as audit
from controlplane.auth.scopes import Scope
from controlplane.context import Ctx
from controlplane.errors import Forbidden
from controlplane.identity import service as identity
from controlplane.kit.clock import utcnow


def _out(workspace_id: str, agent_id: str, row: AgentRuntimeConfig | None) -> AgentRuntimeOut:
    if row is None:
        return AgentRuntimeOut(
            agent_id=agent_id,
            workspace_id=workspace_id,
            provider=DEFAULT_PROVIDER,
            model=DEFAULT_MODEL,
            parameters={},
            instructions=None,
            configured=False,
            updated_at=None,
        )
    return AgentRuntimeOut(
        agent_id=row.agent_id,
        workspace_id=row.workspace_id,
        provider=row.provider,
        model=row.model,
        parameters=dict(row.parameters),
        instructions=row.instructions,
        configured=True,
        updated_at=row.updated_at,
    )


def get_settings(ctx: Ctx, workspace_id: str, agent_id: str) -> AgentRuntimeOut:
    agent = identity.get_agent(ctx, workspace_id, agent_id, Scope.AGENTS_READ)
    return _out(workspace_id, agent.id, repository.get(ctx.session, agent.id))


def set_settings(
    ctx: Ctx, workspace_id: str, agent_id: str, body: AgentRuntimeIn
) -> AgentRuntimeOut:
    agent = identity.get_agent(ctx, workspace_id, agent_id, Scope.AGENTS_WRITE)
    token = ctx.require_principal().token
    if token is not None and token.agent_id is not None:
        # An agent choosing its own model could route around the model allow-list's intent.
        raise Forbidden("an agent-bound token cannot change runtime settings", code="agent_bound")
    row = repository.get(ctx.session, agent.id)
    if row is None:
        row = AgentRuntimeConfig(agent_id=agent.id, workspace_id=workspace_id)
    row.provider, row.model = body.provider, body.model
    row.parameters, row.instructions = body.parameters, body.instructions
    row.updated_by, row.updated_at = ctx.require_principal().actor_id, utcnow()
    repository.add(ctx.session, row)
    audit.record(
        ctx,
        "agent.runtime.update",
        target_type="agent",
        target_id=agent.id,
        workspace_id=workspace_id,
        # Parameter names only: values are the operator's business, instructions may be long.
        details={
            "provider": body.provider,
            "model": body.model,
            "parameters": sorted(body.parameters),
        },
    )
    return _out(workspace_id, agent.id, row)
