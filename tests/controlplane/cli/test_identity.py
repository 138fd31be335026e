"""Workspace selection, and the users, workspaces, members, agents and plugins commands."""

import json

from sqlalchemy.orm import Session

from controlplane.auth.scopes import Role
from controlplane.container import Container
from tests import factories
from tests.controlplane.cli.helpers import Cli, assert_one_line_error


def _agent_names(cli: Cli, *args: str, env: dict[str, str | None] | None = None) -> list[str]:
    result = cli.ok("agents", "list", "--json", *args, env=env)
    return [agent["name"] for agent in json.loads(result.stdout)]


def test_workspace_resolution(cli: Cli, session: Session, container: Container) -> None:
    acme = factories.tenant(session, container, "acme")
    beta = factories.workspace(session, "beta", owner=acme.owner)
    factories.agent(session, beta, "beta-agent")
    session.commit()
    cli.login("acme-owner")

    ambiguous = cli("agents", "list")
    assert_one_line_error(ambiguous, "several workspaces are visible (acme, beta)", "--workspace")

    assert _agent_names(cli, "--workspace", "beta") == ["beta-agent"]
    assert _agent_names(cli, "-w", acme.workspace.id) == ["acme-agent"]
    assert _agent_names(cli, env={"GATEHOUSE_WORKSPACE": "beta"}) == ["beta-agent"]
    # The flag wins over the environment.
    assert _agent_names(cli, "-w", "acme", env={"GATEHOUSE_WORKSPACE": "beta"}) == ["acme-agent"]

    unknown = cli("agents", "list", "-w", "gamma")
    assert_one_line_error(unknown, "workspace gamma not found")

    default = factories.workspace(session, "default", owner=acme.owner)
    factories.agent(session, default, "default-agent")
    session.commit()
    assert _agent_names(cli) == ["default-agent"]


def test_only_visible_workspace_is_the_default(
    cli: Cli, session: Session, container: Container
) -> None:
    acme = factories.tenant(session, container, "acme")
    factories.tenant(session, container, "beta")
    session.commit()
    # A workspace token sees its own workspace only, so it needs no --workspace.
    assert _agent_names(cli, env={"GATEHOUSE_TOKEN": acme.agent_token}) == ["acme-agent"]
    hidden = cli("agents", "list", "-w", "beta", token=acme.agent_token)
    assert_one_line_error(hidden, "workspace beta not found")


def test_users(cli: Cli, session: Session, container: Container) -> None:
    factories.user(session, container, "root", is_admin=True)
    session.commit()
    cli.login("root")

    created = json.loads(
        cli.ok(
            "users",
            "create",
            "alice",
            "--password-stdin",
            "--json",
            stdin="alice's long password\n",
        ).stdout
    )
    assert created["username"] == "alice"
    assert created["is_admin"] is False

    listed = cli.ok("users", "list")
    assert "alice" in listed.stdout
    assert "root" in listed.stdout

    factories.user(session, container, "usr_lookalike")
    session.commit()
    lookalike = cli.ok("users", "disable", "usr_lookalike", "--json")
    assert json.loads(lookalike.stdout)["username"] == "usr_lookalike"

    disabled = json.loads(cli.ok("users", "disable", created["id"], "--json").stdout)
    assert disabled["id"] == created["id"]
    assert disabled["disabled_at"] is not None

    login = cli("login", "-u", "alice", "--password-stdin", stdin="alice's long password\n")
    assert_one_line_error(login, "(unauthenticated)")

    not_found = cli("users", "disable", "bob")
    assert_one_line_error(not_found, "user bob not found")


def test_passwd(cli: Cli, session: Session, container: Container) -> None:
    factories.tenant(session, container, "acme")
    session.commit()
    cli.login("acme-owner")

    wrong = cli(
        "users",
        "passwd",
        "--password-stdin",
        stdin="a brand new password\n",
        env={"GATEHOUSE_CURRENT_PASSWORD": "not it"},
    )
    assert_one_line_error(wrong, "the current password is wrong (bad_password)")

    changed = cli.ok(
        "users",
        "passwd",
        "--password-stdin",
        stdin="a brand new password\n",
        env={"GATEHOUSE_CURRENT_PASSWORD": factories.PASSWORD},
    )
    assert "password changed" in changed.stderr
    assert "a brand new password" not in changed.output
    cli.login("acme-owner", "a brand new password")

    prompted = cli.ok(
        "users", "passwd", stdin="a brand new password\nthird password!!\nthird password!!\n"
    )
    assert "third password!!" not in prompted.output
    cli.login("acme-owner", "third password!!")


def test_workspaces_and_members(cli: Cli, session: Session, container: Container) -> None:
    acme = factories.tenant(session, container, "acme")
    carol = factories.user(session, container, "carol")
    session.commit()
    cli.login("acme-owner")

    created = json.loads(
        cli.ok("workspaces", "create", "lab", "--require-plugin-approval", "--json").stdout
    )
    assert created["role"] == Role.OWNER
    assert created["require_plugin_approval"] is True
    listed = json.loads(cli.ok("workspaces", "list", "--json").stdout)
    assert sorted(ws["name"] for ws in listed) == ["acme", "lab"]

    added = json.loads(
        cli.ok("members", "add", "carol", "--role", "operator", "-w", "lab", "--json").stdout
    )
    assert added["username"] == "carol"
    assert added["role"] == "operator"
    members = cli.ok("members", "list", "-w", "lab")
    assert "carol" in members.stdout
    assert "operator" in members.stdout

    removed = cli.ok("members", "remove", "carol", "-w", "lab")
    assert "removed carol" in removed.stderr
    remaining = json.loads(cli.ok("members", "list", "-w", "lab", "--json").stdout)
    assert [m["username"] for m in remaining] == ["acme-owner"]

    again = json.loads(
        cli.ok("members", "add", carol.id, "-r", "viewer", "-w", "lab", "--json").stdout
    )
    assert again["username"] == "carol"

    by_id = cli.ok("members", "remove", acme.viewer.id, "-w", "acme", "--json")
    assert json.loads(by_id.stdout)["user_id"] == acme.viewer.id

    bad_role = cli("members", "add", "carol", "--role", "emperor", "-w", "lab")
    assert bad_role.exit_code == 2  # typer's usage error: the choices are listed
    assert "Traceback" not in bad_role.output


def test_agents_and_plugins(cli: Cli, session: Session, container: Container) -> None:
    acme = factories.tenant(session, container, "acme")
    acme.workspace.require_plugin_approval = True
    session.commit()
    cli.login("acme-owner")

    agent = json.loads(cli.ok("agents", "create", "scout", "-d", "looks around", "--json").stdout)
    assert agent["description"] == "looks around"
    assert _agent_names(cli) == ["acme-agent", "scout"]
    assert _agent_names(cli, "--limit", "1") == ["acme-agent"]

    core = json.loads(
        cli.ok(
            "plugins",
            "add",
            "search",
            "--agent",
            "scout",
            "--version",
            "1.0.0",
            "--tier",
            "core",
            "--json",
        ).stdout
    )
    assert core["approval"] == "not_required"
    community = json.loads(
        cli.ok(
            "plugins",
            "add",
            "scraper",
            "-a",
            agent["id"],
            "--version",
            "0.3",
            "--tier",
            "community",
            "--disabled",
            "--json",
        ).stdout
    )
    assert community["approval"] == "pending"
    assert community["enabled"] is False

    refused = cli("plugins", "enable", "scraper", "--agent", "scout")
    assert_one_line_error(refused, "needs approval")

    approved = json.loads(
        cli.ok("plugins", "approve", "scraper", "--agent", "scout", "--json").stdout
    )
    assert approved["approval"] == "approved"
    enabled = json.loads(
        cli.ok("plugins", "enable", community["id"], "--agent", "scout", "--json").stdout
    )
    assert enabled["enabled"] is True
    disabled = json.loads(
        cli.ok("plugins", "disable", "search", "--agent", "scout", "--json").stdout
    )
    assert disabled["enabled"] is False

    listed = cli.ok("plugins", "list", "--agent", "scout")
    assert "scraper" in listed.stdout
    assert "approved" in listed.stdout

    shown = json.loads(cli.ok("agents", "show", "scout", "--json").stdout)
    assert shown["id"] == agent["id"]
    assert sorted(p["name"] for p in shown["plugins"]) == ["scraper", "search"]
    table = cli.ok("agents", "show", agent["id"])
    assert "looks around" in table.stdout
    assert "scraper" in table.stdout

    missing = cli("plugins", "approve", "nothing", "--agent", "scout")
    assert_one_line_error(missing, "plugin nothing not found")
