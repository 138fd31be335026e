"""`gatehouse agents configure` and `gatehouse agents runtime`: which provider, model and
parameters an agent runs with in the streaming runtime."""

import json
from typing import Annotated, Any

import typer

from controlplane.cli.client import (
    JsonFlag,
    WorkspaceOption,
    connect,
    record_table,
    resolve_agent,
    resolve_workspace,
)
from controlplane.cli.identity import agents_app
from controlplane.cli.output import emit_json, fail

AgentArgument = Annotated[str, typer.Argument(help="Agent id or name.")]


def parse_parameters(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs; a value that reads as JSON (numbers, true, lists) is taken as such."""
    parameters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            fail(f"--param takes key=value, got {pair!r}", code=2)
        try:
            parameters[key] = json.loads(raw)
        except ValueError:
            parameters[key] = raw
    return parameters


def _show(settings: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(settings)
        return
    record_table({**settings, "parameters": json.dumps(settings["parameters"])})


@agents_app.command("runtime")
def agents_runtime(
    agent: AgentArgument, workspace: WorkspaceOption = None, as_json: JsonFlag = False
) -> None:
    """The provider, model and parameters the agent runs with."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        agent_id = resolve_agent(api, workspace_id, agent)["id"]
        settings = api.get(f"/v1/workspaces/{workspace_id}/agents/{agent_id}/runtime")
    _show(settings, as_json)


@agents_app.command("configure")
def agents_configure(
    agent: AgentArgument,
    provider: Annotated[
        str,
        typer.Option(help="local, openai, openai-responses, anthropic or openrouter."),
    ],
    model: Annotated[str, typer.Option(help="The provider's model name.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="key=value, repeatable (temperature=0.2)."),
    ] = None,
    instructions: Annotated[
        str | None, typer.Option(help="The agent's system prompt.", show_default=False)
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Set the provider, model and parameters the agent runs with (replaces all of them)."""
    body = {
        "provider": provider,
        "model": model,
        "parameters": parse_parameters(param or []),
        "instructions": instructions,
    }
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        agent_id = resolve_agent(api, workspace_id, agent)["id"]
        settings = api.put(f"/v1/workspaces/{workspace_id}/agents/{agent_id}/runtime", body)
    _show(settings, as_json)
