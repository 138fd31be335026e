"""Remote commands for proxy policy: `policy show|list|set|clear`.

A PUT replaces a policy's rules wholesale, so `set` sends exactly the rules given; `--merge`
reads the stored rules first, because an operator usually means to change one rule, not to
drop the others. Values are checked by the server, so a bad one fails like any API error.
"""

from typing import Annotated, Any, get_args

import typer

from controlplane.cli.client import (
    Api,
    Json,
    JsonFlag,
    WorkspaceOption,
    cells,
    connect,
    record_table,
    resolve_agent,
    resolve_workspace,
)
from controlplane.cli.output import emit_json, fail, note, show
from controlplane.policies.schemas import EffectivePolicyOut, PolicyRules, Upstream

policy_app = typer.Typer(
    help="Proxy policy: the workspace default and per-agent overrides.", no_args_is_help=True
)

# The schema's field order is the API's rule order; the CLI shows them the same way. RULES also
# holds the workspace settings (anomaly_auto_suspend), which the effective policy does not.
RULES = tuple(PolicyRules.model_fields)
POLICY_FIELDS = ["workspace_id", "agent_id", *RULES, "created_at", "updated_at"]
EFFECTIVE_FIELDS = list(EffectivePolicyOut.model_fields)
LIST_COLUMNS = ["policy", *RULES, "updated_at"]

AgentOption = Annotated[
    str | None,
    typer.Option("--agent", help="An agent (id or name): its override, not the workspace default."),
]


def _path(api: Api, workspace: str | None, agent: str | None) -> str:
    workspace_id = resolve_workspace(api, workspace)
    path = f"/v1/workspaces/{workspace_id}"
    if agent is None:
        return f"{path}/policy"
    return f"{path}/agents/{resolve_agent(api, workspace_id, agent)['id']}/policy"


def _print(record: Json, fields: list[str], as_json: bool) -> None:
    if as_json:
        emit_json(record)
    else:
        record_table(record, fields)


@policy_app.command("show")
def policy_show(
    agent: AgentOption = None,
    effective: Annotated[
        bool,
        typer.Option("--effective", help="What the proxy applies: the override over the default."),
    ] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """The stored rules of the workspace default, or of one agent's override."""
    with connect() as api:
        path = _path(api, workspace, agent)
        record = api.get(f"{path}/effective" if effective else path)
    _print(record, EFFECTIVE_FIELDS if effective else POLICY_FIELDS, as_json)


@policy_app.command("list")
def policy_list(workspace: WorkspaceOption = None, as_json: JsonFlag = False) -> None:
    """The workspace default (set or not) and every agent override."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        rows: list[Json] = api.get(f"/v1/workspaces/{workspace_id}/policies")
    if as_json:
        emit_json(rows)
        return
    # One row per policy: "workspace" for the default, the agent's id for an override.
    labelled = [{**cells(row), "policy": row["agent_id"] or "workspace"} for row in rows]
    show(labelled, as_json=False, columns=LIST_COLUMNS)


@policy_app.command("set")
def policy_set(
    agent: AgentOption = None,
    upstream: Annotated[
        list[str] | None,
        typer.Option(
            "--upstream", help=f"Allow this upstream ({', '.join(get_args(Upstream))}); repeatable."
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Allow models matching this glob (e.g. gpt-4o*); repeatable."),
    ] = None,
    required_scope: Annotated[
        str | None,
        typer.Option(
            "--required-scope", help="The scope a token needs: proxy:invoke or runtime:invoke."
        ),
    ] = None,
    token_rpm: Annotated[
        int | None, typer.Option("--token-rpm", help="Requests per minute per token.")
    ] = None,
    token_tpm: Annotated[
        int | None, typer.Option("--token-tpm", help="Tokens per minute per token.")
    ] = None,
    workspace_rpm: Annotated[
        int | None, typer.Option("--workspace-rpm", help="Requests per minute for the workspace.")
    ] = None,
    workspace_tpm: Annotated[
        int | None, typer.Option("--workspace-tpm", help="Tokens per minute for the workspace.")
    ] = None,
    max_body_bytes: Annotated[
        int | None, typer.Option("--max-body-bytes", help="Largest request body accepted.")
    ] = None,
    max_streams_per_token: Annotated[
        int | None,
        typer.Option("--max-streams-per-token", help="Open requests one token may hold."),
    ] = None,
    cidr: Annotated[
        list[str] | None,
        typer.Option("--cidr", help="Only accept requests from this network; repeatable."),
    ] = None,
    anomaly_auto_suspend: Annotated[
        bool | None,
        typer.Option(
            "--anomaly-auto-suspend/--no-anomaly-auto-suspend",
            help="Workspace policy only: let a critical anomaly alert suspend the token it is "
            "about. Off unless given.",
            show_default=False,
        ),
    ] = None,
    merge: Annotated[
        bool,
        typer.Option("--merge", help="Keep the stored rules and change only the ones given."),
    ] = False,
    unset: Annotated[
        list[str] | None,
        typer.Option(
            "--unset", help="With --merge: remove this rule (e.g. token_rpm); repeatable."
        ),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Replace the rules (a rule not given is removed), or change some with --merge."""
    given: dict[str, Any] = {
        "upstreams": upstream or None,
        "models": model or None,
        "required_scope": required_scope,
        "token_rpm": token_rpm,
        "token_tpm": token_tpm,
        "workspace_rpm": workspace_rpm,
        "workspace_tpm": workspace_tpm,
        "max_body_bytes": max_body_bytes,
        "max_streams_per_token": max_streams_per_token,
        "cidrs": cidr or None,
        "anomaly_auto_suspend": anomaly_auto_suspend,
    }
    removed = [_rule(name) for name in unset or []]
    if removed and not merge:
        fail("--unset only applies with --merge: without it, every rule not given is removed")
    with connect() as api:
        path = _path(api, workspace, agent)
        stored_rules: Json = api.get(path) if merge else {}
        body = {rule: stored_rules.get(rule) for rule in RULES}
        body.update({rule: value for rule, value in given.items() if value is not None})
        for rule in removed:
            body.pop(rule, None)
        stored = api.put(path, {rule: value for rule, value in body.items() if value is not None})
    _print(stored, POLICY_FIELDS, as_json)


def _rule(name: str) -> str:
    rule = name.strip().replace("-", "_")
    if rule not in RULES:
        fail(f"unknown rule {name!r}; expected one of: {', '.join(RULES)}")
    return rule


@policy_app.command("clear")
def policy_clear(agent: AgentOption = None, workspace: WorkspaceOption = None) -> None:
    """Delete the workspace default, or one agent's override with --agent."""
    with connect() as api:
        api.delete(_path(api, workspace, agent))
    note("cleared the " + (f"policy of agent {agent}" if agent else "workspace policy"))
