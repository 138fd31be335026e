"""Remote commands about people: `login`, `me` and `users create|list|disable|passwd`."""

import os
from typing import Annotated

import typer

from controlplane.cli.client import (
    JsonFlag,
    connect,
    find,
    read_stdin_line,
    record_table,
    save_session,
    segment,
)
from controlplane.cli.output import emit_json, errors, show, warn

users_app = typer.Typer(help="User accounts (instance admins).", no_args_is_help=True)

USER_COLUMNS = ["id", "username", "is_admin", "disabled_at", "created_at"]
CURRENT_PASSWORD_ENV = "GATEHOUSE_CURRENT_PASSWORD"  # noqa: S105 - a variable name, not a secret

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def _new_password(from_stdin: bool) -> str:
    if from_stdin:
        return read_stdin_line("password")
    password: str = typer.prompt(
        "New password", hide_input=True, confirmation_prompt=True, err=True
    )
    return password


def login(
    username: Annotated[
        str, typer.Option("--username", "-u", prompt=True, help="Your Gatehouse username.")
    ],
    password_stdin: PasswordStdin = False,
    as_json: JsonFlag = False,
) -> None:
    """Log in with a username and password; the session is saved in $GATEHOUSE_HOME/cli-session.

    The password is prompted for (hidden) unless --password-stdin is given.
    """
    with connect(authenticated=False) as api:
        if password_stdin:
            password = read_stdin_line("password")
        else:
            password = typer.prompt("Password", hide_input=True, err=True)
        reply = api.post("/v1/auth/login", {"username": username, "password": password})
        path = save_session(api.url, username, reply["access_token"])
    if as_json:
        emit_json(
            {
                "username": username,
                "url": api.url,
                "session_file": str(path),
                "expires_in": reply["expires_in"],
            }
        )
    else:
        errors.print(f"logged in as {username}, session saved", highlight=False, markup=False)
    if os.environ.get("GATEHOUSE_TOKEN", "").strip():
        warn("GATEHOUSE_TOKEN is set and takes precedence over the saved session")


def me(as_json: JsonFlag = False) -> None:
    """Who the current credential is, and the workspaces it can see."""
    with connect() as api:
        reply = api.get("/v1/me")
    if as_json:
        emit_json(reply)
        return
    user = reply["user"]
    record_table(
        {
            "kind": reply["kind"],
            "username": user["username"],
            "user_id": user["id"],
            "is_admin": user["is_admin"],
            "token_accessor": reply.get("token_accessor"),
            "workspace_id": reply.get("workspace_id"),
            "agent_id": reply.get("agent_id"),
            "scopes": reply.get("scopes"),
        }
    )
    show(reply["workspaces"], as_json=False, columns=["id", "name", "role"], title="workspaces")


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Argument(help="Lowercase letters, digits, . _ @ -.")],
    admin: Annotated[bool, typer.Option("--admin", help="Make an instance admin.")] = False,
    password_stdin: PasswordStdin = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a user. The password is prompted for twice unless --password-stdin is given."""
    with connect() as api:
        password = _new_password(password_stdin)
        user = api.post(
            "/v1/users", {"username": username, "password": password, "is_admin": admin}
        )
    show(user, as_json=as_json, columns=USER_COLUMNS)


@users_app.command("list")
def users_list(as_json: JsonFlag = False) -> None:
    """List every user."""
    with connect() as api:
        users = api.get("/v1/users")
    show(users, as_json=as_json, columns=USER_COLUMNS)


@users_app.command("disable")
def users_disable(
    user: Annotated[str, typer.Argument(help="User id or username.")],
    as_json: JsonFlag = False,
) -> None:
    """Disable a user; the tokens they created are revoked."""
    with connect() as api:
        user_id = find(api.get("/v1/users"), user, "user", keys=("id", "username"))["id"]
        disabled = api.post(f"/v1/users/{segment(user_id)}/disable")
    show(disabled, as_json=as_json, columns=USER_COLUMNS)


@users_app.command("passwd")
def users_passwd(
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help=f"Read the NEW password from the first line of stdin; the current one is then "
            f"taken from ${CURRENT_PASSWORD_ENV} (leave it unset if you have none yet).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change your own password (needs a user session or a personal token).

    Interactively, asks for the current password (press Enter if you have none yet, e.g.
    the first admin) and the new one twice.
    """
    # Connect first, so a missing credential is reported before any typing.
    with connect() as api:
        if password_stdin:
            current = os.environ.get(CURRENT_PASSWORD_ENV) or None
        else:
            current = (
                typer.prompt(
                    "Current password (Enter if none)",
                    hide_input=True,
                    default="",
                    show_default=False,
                    err=True,
                )
                or None
            )
        new = _new_password(password_stdin)
        api.put("/v1/me/password", {"current_password": current, "new_password": new})
    if as_json:
        emit_json({"password_changed": True})
    else:
        errors.print("password changed")
