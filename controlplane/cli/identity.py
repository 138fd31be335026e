"""Remote commands for what a workspace holds: workspaces, members, agents and plugins."""

import re
from typing import Annotated, Literal

import typer

from controlplane.auth.scopes import Role
from controlplane.cli.client import (
    Api,
    Json,
    JsonFlag,
    LimitOption,
    WorkspaceOption,
    connect,
    find,
    record_table,
    resolve_agent,
    resolve_workspace,
    segment,
)
from controlplane.cli.output import emit_json, errors, show

workspaces_app = typer.Typer(help="Workspaces.", no_args_is_help=True)
members_app = typer.Typer(help="Workspace members and their roles.", no_args_is_help=True)
agents_app = typer.Typer(help="Agents of a workspace.", no_args_is_help=True)
plugins_app = typer.Typer(help="Plugins of an agent.", no_args_is_help=True)

WORKSPACE_COLUMNS = ["id", "name", "role", "require_plugin_approval", "created_at"]
MEMBER_COLUMNS = ["user_id", "username", "role", "created_at"]
AGENT_COLUMNS = ["id", "name", "description", "created_at"]
PLUGIN_COLUMNS = ["id", "name", "version", "tier", "enabled", "approval", "approved_by"]

AgentOption = Annotated[str, typer.Option("--agent", "-a", help="Agent id or name.")]
PluginArgument = Annotated[str, typer.Argument(help="Plugin id or name.")]


# --- workspaces ---------------------------------------------------------------------------


@workspaces_app.command("list")
def workspaces_list(as_json: JsonFlag = False) -> None:
    """Workspaces the credential can see, with your role in each."""
    with connect() as api:
        workspaces = api.get("/v1/workspaces")
    show(workspaces, as_json=as_json, columns=WORKSPACE_COLUMNS)


@workspaces_app.command("create")
def workspaces_create(
    name: Annotated[str, typer.Argument(help="Unique workspace name.")],
    require_plugin_approval: Annotated[
        bool,
        typer.Option(
            "--require-plugin-approval", help="Community plugins need approval before use."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a workspace; you become its owner."""
    with connect() as api:
        workspace = api.post(
            "/v1/workspaces", {"name": name, "require_plugin_approval": require_plugin_approval}
        )
    show(workspace, as_json=as_json, columns=WORKSPACE_COLUMNS)


# --- members ------------------------------------------------------------------------------


# The shape of `kit.ids.new_id("usr")`. Adding a member cannot look the user up first (listing
# users takes users:write), so a value of exactly this shape is sent as an id, anything else as
# a username.
_USER_ID = re.compile(r"usr_[0-9a-hjkmnp-tv-z]{26}")


def _member_user_id(api: Api, workspace_id: str, user: str) -> str:
    members = api.get(f"/v1/workspaces/{workspace_id}/members")
    return str(find(members, user, "member", keys=("user_id", "username"))["user_id"])


@members_app.command("list")
def members_list(workspace: WorkspaceOption = None, as_json: JsonFlag = False) -> None:
    """Members of the workspace."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        members = api.get(f"/v1/workspaces/{workspace_id}/members")
    show(members, as_json=as_json, columns=MEMBER_COLUMNS)


@members_app.command("add")
def members_add(
    user: Annotated[str, typer.Argument(help="Username, or user id (usr_…).")],
    role: Annotated[Role, typer.Option("--role", "-r", help="Role in the workspace.")],
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a user to the workspace with a role."""
    key = "user_id" if _USER_ID.fullmatch(user) else "username"
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        member = api.post(f"/v1/workspaces/{workspace_id}/members", {key: user, "role": role.value})
    show(member, as_json=as_json, columns=MEMBER_COLUMNS)


@members_app.command("remove")
def members_remove(
    user: Annotated[str, typer.Argument(help="User id or username.")],
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Remove a member; the tokens they created in the workspace are revoked."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        user_id = _member_user_id(api, workspace_id, user)
        api.delete(f"/v1/workspaces/{workspace_id}/members/{segment(user_id)}")
    if as_json:
        emit_json({"workspace_id": workspace_id, "user_id": user_id, "removed": True})
    else:
        errors.print(f"removed {user} from workspace {workspace_id}", highlight=False, markup=False)


# --- agents -------------------------------------------------------------------------------


@agents_app.command("list")
def agents_list(
    workspace: WorkspaceOption = None, limit: LimitOption = None, as_json: JsonFlag = False
) -> None:
    """Agents of the workspace."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        agents = list(api.pages(f"/v1/workspaces/{workspace_id}/agents", limit=limit))
    show(agents, as_json=as_json, columns=AGENT_COLUMNS)


@agents_app.command("create")
def agents_create(
    name: Annotated[str, typer.Argument(help="Agent name, unique in the workspace.")],
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Register an agent in the workspace."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        agent = api.post(
            f"/v1/workspaces/{workspace_id}/agents", {"name": name, "description": description}
        )
    show(agent, as_json=as_json, columns=AGENT_COLUMNS)


@agents_app.command("show")
def agents_show(
    agent: Annotated[str, typer.Argument(help="Agent id or name.")],
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """One agent, with its plugins."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        record = resolve_agent(api, workspace_id, agent)
        plugins = api.get(f"/v1/workspaces/{workspace_id}/agents/{record['id']}/plugins")
    if as_json:
        emit_json({**record, "plugins": plugins})
        return
    record_table(record)
    show(plugins, as_json=False, columns=PLUGIN_COLUMNS, title="plugins")


# --- plugins ------------------------------------------------------------------------------


def _agent_path(api: Api, workspace: str | None, agent: str) -> str:
    workspace_id = resolve_workspace(api, workspace)
    agent_id = resolve_agent(api, workspace_id, agent)["id"]
    return f"/v1/workspaces/{workspace_id}/agents/{agent_id}/plugins"


def _plugin_path(api: Api, workspace: str | None, agent: str, plugin: str) -> str:
    base = _agent_path(api, workspace, agent)
    return f"{base}/{find(api.get(base), plugin, 'plugin')['id']}"


@plugins_app.command("list")
def plugins_list(
    agent: AgentOption, workspace: WorkspaceOption = None, as_json: JsonFlag = False
) -> None:
    """Plugins of an agent."""
    with connect() as api:
        plugins = api.get(_agent_path(api, workspace, agent))
    show(plugins, as_json=as_json, columns=PLUGIN_COLUMNS)


@plugins_app.command("add")
def plugins_add(
    name: Annotated[str, typer.Argument(help="Plugin name, unique per agent.")],
    agent: AgentOption,
    version: Annotated[str, typer.Option("--version", help="Plugin version, e.g. 1.2.0.")],
    tier: Annotated[Literal["core", "community"], typer.Option("--tier")],
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a plugin to an agent (community plugins may then await approval)."""
    body: Json = {"name": name, "version": version, "tier": tier, "enabled": not disabled}
    with connect() as api:
        plugin = api.post(_agent_path(api, workspace, agent), body)
    show(plugin, as_json=as_json, columns=PLUGIN_COLUMNS)


@plugins_app.command("approve")
def plugins_approve(
    plugin: PluginArgument,
    agent: AgentOption,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve a plugin that awaits approval."""
    with connect() as api:
        approved = api.post(f"{_plugin_path(api, workspace, agent, plugin)}/approve")
    show(approved, as_json=as_json, columns=PLUGIN_COLUMNS)


def _set_enabled(
    plugin: str, agent: str, workspace: str | None, enabled: bool, as_json: bool
) -> None:
    with connect() as api:
        updated = api.patch(_plugin_path(api, workspace, agent, plugin), {"enabled": enabled})
    show(updated, as_json=as_json, columns=PLUGIN_COLUMNS)


@plugins_app.command("enable")
def plugins_enable(
    plugin: PluginArgument,
    agent: AgentOption,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Switch a plugin on."""
    _set_enabled(plugin, agent, workspace, True, as_json)


@plugins_app.command("disable")
def plugins_disable(
    plugin: PluginArgument,
    agent: AgentOption,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Switch a plugin off."""
    _set_enabled(plugin, agent, workspace, False, as_json)
