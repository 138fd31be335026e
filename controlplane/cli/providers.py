"""Remote commands for provider credentials: `providers set|list|delete`.

The API key is read from stdin only, never taken as an argument: arguments land in shell
history and in every process listing. Nothing ever prints a key back.
"""

from typing import Annotated

import typer

from controlplane.cli.client import (
    Api,
    JsonFlag,
    LimitOption,
    WorkspaceOption,
    connect,
    read_stdin_line,
    record_table,
    resolve_agent,
    resolve_workspace,
    segment,
)
from controlplane.cli.output import emit_json, fail, note, show
from controlplane.providers.schemas import PROVIDERS

providers_app = typer.Typer(
    help="Provider API keys, held by Gatehouse for agents and injected by the proxy.",
    no_args_is_help=True,
)

COLUMNS = ["provider", "agent_id", "base_url", "fingerprint", "last4", "key_id", "updated_at"]

ProviderArgument = Annotated[str, typer.Argument(help=f"One of: {', '.join(PROVIDERS)}.")]
AgentOption = Annotated[
    str | None,
    typer.Option("--agent", help="An agent (id or name): its override, not the workspace default."),
]


def _provider(value: str) -> str:
    if value not in PROVIDERS:
        fail(f"unknown provider {value!r}; expected one of: {', '.join(PROVIDERS)}")
    return value


def _path(api: Api, workspace: str | None, provider: str) -> tuple[str, str]:
    workspace_id = resolve_workspace(api, workspace)
    return workspace_id, f"/v1/workspaces/{workspace_id}/providers/{segment(provider)}"


@providers_app.command("set")
def providers_set(
    provider: ProviderArgument,
    api_key_stdin: Annotated[
        bool, typer.Option("--api-key-stdin", help="Read the API key from the first stdin line.")
    ] = False,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Another upstream for this provider.")
    ] = None,
    agent: AgentOption = None,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Store or replace a provider API key for the workspace, or for one agent."""
    _provider(provider)
    if not api_key_stdin:
        fail("the API key is read from stdin only: pipe it in and pass --api-key-stdin")
    api_key = read_stdin_line("API key")
    with connect() as api:
        workspace_id, path = _path(api, workspace, provider)
        agent_id = resolve_agent(api, workspace_id, agent)["id"] if agent else None
        stored = api.put(path, {"api_key": api_key, "base_url": base_url, "agent_id": agent_id})
    if as_json:
        emit_json(stored)
    else:
        record_table(stored, COLUMNS)


@providers_app.command("list")
def providers_list(
    workspace: WorkspaceOption = None, limit: LimitOption = None, as_json: JsonFlag = False
) -> None:
    """The workspace's provider credentials: fingerprints and last four characters, no keys."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        rows = list(api.pages(f"/v1/workspaces/{workspace_id}/providers", limit=limit))
    show(rows, as_json=as_json, columns=COLUMNS)


@providers_app.command("delete")
def providers_delete(
    provider: ProviderArgument, agent: AgentOption = None, workspace: WorkspaceOption = None
) -> None:
    """Delete the workspace default for a provider, or one agent's override with --agent."""
    _provider(provider)
    with connect() as api:
        workspace_id, path = _path(api, workspace, provider)
        agent_id = resolve_agent(api, workspace_id, agent)["id"] if agent else None
        api.call("DELETE", path, params={"agent_id": agent_id})
    note(f"deleted the {provider} credential" + (f" of agent {agent}" if agent else ""))
