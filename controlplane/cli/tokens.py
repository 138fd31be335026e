"""Remote commands for scoped tokens: `tokens issue|list|show|revoke|suspend|resume|rotate`.

A token's secret is printed where it is issued (issue, rotate) and nowhere else: on stdout and
alone there, so `TOKEN=$(gatehouse tokens issue …)` captures just the secret; the warning and
the token's details go to stderr.
"""

import re
from typing import Annotated

import typer

from controlplane.cli.client import (
    Json,
    JsonFlag,
    LimitOption,
    WorkspaceOption,
    cells,
    connect,
    record_table,
    resolve_agent,
    resolve_workspace,
    segment,
)
from controlplane.cli.output import emit_json, errors, fail, secret_once, show, table
from controlplane.tokens.format import ACCESSOR_PREFIX, TOKEN_PREFIX

tokens_app = typer.Typer(help="Scoped tokens.", no_args_is_help=True)

TOKEN_COLUMNS = [
    "accessor",
    "scopes",
    "agent_id",
    "description",
    "expires_at",
    "use_count",
    "last_used_at",
    "revoked_at",
    "suspended_at",
]
ISSUED_COLUMNS = ("accessor", "scopes", "agent_id", "expires_at")
_DURATION = re.compile(r"(\d+)([smhdw]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}

AccessorArgument = Annotated[str, typer.Argument(help="The token's accessor (never its secret).")]


def parse_duration(value: str, flag: str) -> int:
    """Seconds from `3600`, `90s`, `15m`, `12h`, `30d` or `2w`."""
    match = _DURATION.fullmatch(value.strip().lower())
    if match is None:
        fail(f"{flag} takes seconds or a number with s, m, h, d or w (e.g. 30d), got {value!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _accessor(value: str) -> str:
    # A secret pasted where an accessor belongs would end up in URLs and access logs.
    if value.startswith(TOKEN_PREFIX):
        fail(f"that is a token's secret, not its accessor ({ACCESSOR_PREFIX}…); it was not sent")
    return value


def _token_path(accessor: str) -> str:
    return f"/v1/tokens/{segment(_accessor(accessor))}"


def _print_issued(issued: Json, as_json: bool) -> None:
    if as_json:
        emit_json(issued)
        return
    secret_once("token", issued["token"])
    # On stderr, so that stdout carries the secret alone.
    table([cells(issued)], ISSUED_COLUMNS, to=errors)


def _print_accessors(outcome: Json, key: str, as_json: bool, nothing: str) -> None:
    """The accessors a revoke, suspend or resume acted on, one per row; or why there are none."""
    if as_json:
        emit_json(outcome)
    elif outcome[key]:
        show([{key: item} for item in outcome[key]], as_json=False, columns=[key])
    else:
        errors.print(nothing, highlight=False, markup=False)


@tokens_app.command("issue")
def tokens_issue(
    scope: Annotated[
        list[str],
        typer.Option("--scope", "-s", help="A scope to grant, e.g. proxy:invoke; repeatable."),
    ],
    agent: Annotated[
        str | None, typer.Option("--agent", help="Bind the token to this agent (id or name).")
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option("--ttl", help="Lifetime: seconds, or 15m, 12h, 30d, 2w. Default: server's."),
    ] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    use_limit: Annotated[
        int | None, typer.Option("--use-limit", min=1, help="Stop working after N uses.")
    ] = None,
    cidr: Annotated[
        list[str] | None,
        typer.Option("--cidr", help="Only accept it from this network; repeatable."),
    ] = None,
    parent: Annotated[
        str | None,
        typer.Option("--parent", help="Accessor of a parent token: revoking it revokes this."),
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a workspace token and print its secret once."""
    body: Json = {
        "scopes": scope,
        "description": description,
        "use_limit": use_limit,
        "cidrs": cidr or [],
        "parent_accessor": _accessor(parent) if parent else None,
        "ttl_seconds": parse_duration(ttl, "--ttl") if ttl is not None else None,
    }
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        if agent is not None:
            body["agent_id"] = resolve_agent(api, workspace_id, agent)["id"]
        issued = api.post(f"/v1/workspaces/{workspace_id}/tokens", body)
    _print_issued(issued, as_json)


@tokens_app.command("list")
def tokens_list(
    include_revoked: Annotated[
        bool, typer.Option("--include-revoked", help="Also list revoked tokens.")
    ] = False,
    workspace: WorkspaceOption = None,
    limit: LimitOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Tokens of the workspace (accessors and metadata; secrets are never listed)."""
    with connect() as api:
        workspace_id = resolve_workspace(api, workspace)
        tokens = list(
            api.pages(
                f"/v1/workspaces/{workspace_id}/tokens",
                limit=limit,
                include_revoked=include_revoked,
            )
        )
    if as_json:
        emit_json(tokens)
    else:
        show([cells(token) for token in tokens], as_json=False, columns=TOKEN_COLUMNS)


@tokens_app.command("show")
def tokens_show(accessor: AccessorArgument, as_json: JsonFlag = False) -> None:
    """One token's metadata."""
    with connect() as api:
        token = api.get(_token_path(accessor))
    if as_json:
        emit_json(token)
    else:
        record_table(token)


@tokens_app.command("revoke")
def tokens_revoke(
    accessor: AccessorArgument,
    reason: Annotated[str, typer.Option("--reason", help="Kept in the audit trail.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Revoke a token and every token descended from it."""
    with connect() as api:
        revoked = api.post(f"{_token_path(accessor)}/revoke", {"reason": reason})
    nothing = f"nothing revoked: {accessor} and its descendants were already inactive"
    _print_accessors(revoked, "revoked", as_json, nothing)


@tokens_app.command("suspend")
def tokens_suspend(
    accessor: AccessorArgument,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (required); kept on the token and in the trail.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Stop a token and its live descendants authenticating, until `tokens resume`."""
    with connect() as api:
        suspended = api.post(f"{_token_path(accessor)}/suspend", {"reason": reason})
    _print_accessors(suspended, "suspended", as_json, f"nothing suspended: {accessor}")


@tokens_app.command("resume")
def tokens_resume(accessor: AccessorArgument, as_json: JsonFlag = False) -> None:
    """Lift a suspension: the token and the descendants that suspension suspended."""
    with connect() as api:
        resumed = api.post(f"{_token_path(accessor)}/resume")
    _print_accessors(resumed, "resumed", as_json, f"nothing resumed: {accessor}")


@tokens_app.command("rotate")
def tokens_rotate(
    accessor: AccessorArgument,
    overlap: Annotated[
        str | None,
        typer.Option(
            "--overlap",
            help="Seconds (or 15m, 1h…) the old secret keeps working. Default: the server's.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Give a token a new secret, printed once; the accessor and scopes stay."""
    body = {"overlap_seconds": parse_duration(overlap, "--overlap") if overlap else None}
    with connect() as api:
        issued = api.post(f"{_token_path(accessor)}/rotate", body)
    _print_issued(issued, as_json)
