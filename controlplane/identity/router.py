"""Users, workspaces, members, agents and plugins over HTTP. Routers parse and delegate."""

from typing import Annotated

from fastapi import APIRouter, Query

from controlplane.auth.scopes import Role, Scope
from controlplane.http.deps import (
    AgentsRead,
    AgentsWrite,
    Authenticated,
    MembersRead,
    MembersWrite,
    PluginsApprove,
    UsersWrite,
    WorkspacesCreate,
)
from controlplane.identity import service
from controlplane.identity.models import Membership, User
from controlplane.identity.schemas import (
    AgentCreate,
    AgentOut,
    MemberAdd,
    MemberOut,
    PluginCreate,
    PluginOut,
    PluginUpdate,
    UserCreate,
    UserOut,
    WorkspaceCreate,
    WorkspaceOut,
)
from controlplane.kit.pagination import next_cursor
from controlplane.kit.schemas import Page, PageLimit

router = APIRouter(prefix="/v1", tags=["identity"])


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, ctx: UsersWrite) -> UserOut:
    return UserOut.model_validate(service.create_user(ctx, body))


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: UsersWrite) -> list[UserOut]:
    return [UserOut.model_validate(user) for user in service.list_users(ctx)]


@router.post("/users/{user_id}/disable", response_model=UserOut)
def disable_user(user_id: str, ctx: UsersWrite) -> UserOut:
    return UserOut.model_validate(service.disable_user(ctx, user_id))


@router.post("/workspaces", response_model=WorkspaceOut, status_code=201)
def create_workspace(body: WorkspaceCreate, ctx: WorkspacesCreate) -> WorkspaceOut:
    workspace = service.create_workspace(ctx, body)
    return WorkspaceOut.model_validate(workspace).model_copy(update={"role": Role.OWNER})


@router.get("/workspaces", response_model=list[WorkspaceOut])
def list_workspaces(ctx: Authenticated) -> list[WorkspaceOut]:
    return [
        WorkspaceOut.model_validate(ws).model_copy(update={"role": role})
        for ws, role in service.list_workspaces(ctx)
    ]


def _member(pair: tuple[Membership, User]) -> MemberOut:
    membership, user = pair
    return MemberOut(
        user_id=user.id,
        username=user.username,
        role=Role(membership.role),
        created_at=membership.created_at,
    )


@router.post("/workspaces/{workspace_id}/members", response_model=MemberOut, status_code=201)
def add_member(workspace_id: str, body: MemberAdd, ctx: MembersWrite) -> MemberOut:
    return _member(service.add_member(ctx, workspace_id, body))


@router.get("/workspaces/{workspace_id}/members", response_model=list[MemberOut])
def list_members(workspace_id: str, ctx: MembersRead) -> list[MemberOut]:
    return [_member(pair) for pair in service.list_members(ctx, workspace_id)]


@router.delete("/workspaces/{workspace_id}/members/{user_id}", status_code=204)
def remove_member(workspace_id: str, user_id: str, ctx: MembersWrite) -> None:
    service.remove_member(ctx, workspace_id, user_id)


@router.post("/workspaces/{workspace_id}/agents", response_model=AgentOut, status_code=201)
def create_agent(workspace_id: str, body: AgentCreate, ctx: AgentsWrite) -> AgentOut:
    return AgentOut.model_validate(service.create_agent(ctx, workspace_id, body))


@router.get("/workspaces/{workspace_id}/agents", response_model=Page[AgentOut])
def list_agents(
    workspace_id: str,
    ctx: AgentsRead,
    cursor: str | None = None,
    limit: Annotated[PageLimit, Query()] = 100,
) -> Page[AgentOut]:
    rows = service.list_agents(ctx, workspace_id, cursor, limit)
    return Page[AgentOut](
        items=[AgentOut.model_validate(row) for row in rows], next_cursor=next_cursor(rows, limit)
    )


@router.get("/workspaces/{workspace_id}/agents/{agent_id}", response_model=AgentOut)
def get_agent(workspace_id: str, agent_id: str, ctx: AgentsRead) -> AgentOut:
    return AgentOut.model_validate(
        service.get_agent(ctx, workspace_id, agent_id, Scope.AGENTS_READ)
    )


@router.post(
    "/workspaces/{workspace_id}/agents/{agent_id}/plugins",
    response_model=PluginOut,
    status_code=201,
)
def add_plugin(workspace_id: str, agent_id: str, body: PluginCreate, ctx: AgentsWrite) -> PluginOut:
    return PluginOut.model_validate(service.add_plugin(ctx, workspace_id, agent_id, body))


@router.get("/workspaces/{workspace_id}/agents/{agent_id}/plugins", response_model=list[PluginOut])
def list_plugins(workspace_id: str, agent_id: str, ctx: AgentsRead) -> list[PluginOut]:
    return [
        PluginOut.model_validate(row) for row in service.list_plugins(ctx, workspace_id, agent_id)
    ]


@router.post(
    "/workspaces/{workspace_id}/agents/{agent_id}/plugins/{plugin_id}/approve",
    response_model=PluginOut,
)
def approve_plugin(
    workspace_id: str, agent_id: str, plugin_id: str, ctx: PluginsApprove
) -> PluginOut:
    return PluginOut.model_validate(service.approve_plugin(ctx, workspace_id, agent_id, plugin_id))


@router.patch(
    "/workspaces/{workspace_id}/agents/{agent_id}/plugins/{plugin_id}", response_model=PluginOut
)
def update_plugin(
    workspace_id: str, agent_id: str, plugin_id: str, body: PluginUpdate, ctx: AgentsWrite
) -> PluginOut:
    return PluginOut.model_validate(
        service.set_plugin_enabled(ctx, workspace_id, agent_id, plugin_id, body.enabled)
    )
