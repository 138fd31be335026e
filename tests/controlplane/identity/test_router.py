"""Users, workspaces, members, agents and plugins through the live HTTP API."""

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from controlplane import migrate
from controlplane.app import create_app
from controlplane.auth.scopes import Role
from controlplane.container import Container
from controlplane.db import make_engine, transaction
from tests import factories
from tests.conftest import test_settings as settings_for
from tests.databases import database_url
from tests.live import ServerThread

NEW_PASSWORD = "a perfectly long password"


def login(
    client: httpx.Client, username: str, password: str = factories.PASSWORD
) -> dict[str, str]:
    response = client.post("/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]
    return code


# --- workspaces ------------------------------------------------------------------------


def test_creating_a_workspace_makes_the_creator_its_owner(
    client: httpx.Client, session: Session, container: Container
) -> None:
    creator = factories.user(session, container, "creator.user")
    session.commit()
    headers = login(client, "creator.user")

    created = client.post(
        "/v1/workspaces",
        json={"name": "Research", "require_plugin_approval": True},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    workspace = created.json()
    assert workspace["name"] == "Research"
    assert workspace["role"] == "owner"
    assert workspace["require_plugin_approval"] is True
    assert workspace["id"].startswith("ws_")

    members = client.get(f"/v1/workspaces/{workspace['id']}/members", headers=headers)
    assert members.status_code == 200, members.text
    assert [(m["user_id"], m["role"]) for m in members.json()] == [(creator.id, "owner")]

    listed = client.get("/v1/workspaces", headers=headers).json()
    assert [(ws["id"], ws["role"]) for ws in listed] == [(workspace["id"], "owner")]
    me = client.get("/v1/me", headers=headers).json()
    assert [ws["id"] for ws in me["workspaces"]] == [workspace["id"]]

    duplicate = client.post("/v1/workspaces", json={"name": "Research"}, headers=headers)
    assert duplicate.status_code == 409, duplicate.text
    assert error_code(duplicate) == "conflict"
    assert len(client.get("/v1/workspaces", headers=headers).json()) == 1


def test_workspace_names_do_not_reveal_other_tenants(
    client: httpx.Client, session: Session, container: Container
) -> None:
    factories.workspace(session, "Research", owner=factories.user(session, container, "alice"))
    factories.user(session, container, "mallory")
    session.commit()
    # Another tenant's "Research" exists, but a stranger learns nothing by choosing the name.
    created = client.post(
        "/v1/workspaces", json={"name": "Research"}, headers=login(client, "mallory")
    )
    assert created.status_code == 201, created.text


def test_single_user_mode_refuses_new_workspaces_users_and_members(
    app: FastAPI,
    client: httpx.Client,
    session: Session,
    container: Container,
    session_factory: sessionmaker[Session],
) -> None:
    admin = factories.user(session, container, "solo.admin", is_admin=True)
    workspace = factories.workspace(session, "default", owner=admin)
    factories.user(session, container, "someone.else")
    session.commit()
    app.state.container = container.rebind(session_factory, multi_user=False)
    headers = login(client, "solo.admin")

    refused = [
        client.post("/v1/workspaces", json={"name": "second"}, headers=headers),
        client.post(
            "/v1/users", json={"username": "newbie", "password": NEW_PASSWORD}, headers=headers
        ),
        client.post(
            f"/v1/workspaces/{workspace.id}/members",
            json={"username": "someone.else", "role": "viewer"},
            headers=headers,
        ),
    ]
    for response in refused:
        assert response.status_code == 403, response.text
        assert error_code(response) == "multi_user_disabled"

    assert [ws["name"] for ws in client.get("/v1/workspaces", headers=headers).json()] == [
        "default"
    ]
    assert {u["username"] for u in client.get("/v1/users", headers=headers).json()} == {
        "solo.admin",
        "someone.else",
    }
    members = client.get(f"/v1/workspaces/{workspace.id}/members", headers=headers).json()
    assert [m["user_id"] for m in members] == [admin.id]
    # Everything else still works in single-user mode.
    agent = client.post(
        f"/v1/workspaces/{workspace.id}/agents", json={"name": "helper"}, headers=headers
    )
    assert agent.status_code == 201, agent.text


# --- members ---------------------------------------------------------------------------


def test_members_cannot_grant_or_remove_above_their_own_role(
    client: httpx.Client, session: Session, container: Container
) -> None:
    owner = factories.user(session, container, "the.owner")
    admin = factories.user(session, container, "the.admin")
    viewer = factories.user(session, container, "the.viewer")
    target = factories.user(session, container, "the.target")
    workspace = factories.workspace(session, "ranked", owner=owner)
    factories.member(session, workspace, admin, Role.ADMIN)
    factories.member(session, workspace, viewer, Role.VIEWER)
    session.commit()
    members_url = f"/v1/workspaces/{workspace.id}/members"
    as_admin = login(client, "the.admin")

    escalation = client.post(
        members_url, json={"user_id": target.id, "role": "owner"}, headers=as_admin
    )
    assert escalation.status_code == 403, escalation.text
    assert error_code(escalation) == "role_escalation"

    remove_owner = client.delete(f"{members_url}/{owner.id}", headers=as_admin)
    assert remove_owner.status_code == 403, remove_owner.text
    assert error_code(remove_owner) == "role_escalation"

    as_viewer = login(client, "the.viewer")
    by_viewer = client.post(
        members_url, json={"user_id": target.id, "role": "viewer"}, headers=as_viewer
    )
    assert by_viewer.status_code == 403, by_viewer.text
    assert error_code(by_viewer) == "scope_missing"

    granted = client.post(
        members_url, json={"username": "the.target", "role": "admin"}, headers=as_admin
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["user_id"] == target.id
    assert granted.json()["role"] == "admin"

    again = client.post(
        members_url, json={"user_id": target.id, "role": "viewer"}, headers=as_admin
    )
    assert again.status_code == 409, again.text
    unknown = client.post(
        members_url, json={"username": "nobody.here", "role": "viewer"}, headers=as_admin
    )
    assert unknown.status_code == 404, unknown.text
    both = client.post(
        members_url,
        json={"user_id": target.id, "username": "the.target", "role": "viewer"},
        headers=as_admin,
    )
    assert both.status_code == 422, both.text

    roles = {m["user_id"]: m["role"] for m in client.get(members_url, headers=as_admin).json()}
    assert roles == {owner.id: "owner", admin.id: "admin", viewer.id: "viewer", target.id: "admin"}


def test_removing_a_member_revokes_their_tokens_in_that_workspace_only(
    client: httpx.Client, session: Session, container: Container
) -> None:
    owner = factories.user(session, container, "lead.owner")
    operator = factories.user(session, container, "ops.person")
    first = factories.workspace(session, "first", owner=owner)
    second = factories.workspace(session, "second", owner=owner)
    factories.member(session, first, operator, Role.OPERATOR)
    factories.member(session, second, operator, Role.OPERATOR)
    session.commit()
    as_owner = login(client, "lead.owner")
    as_operator = login(client, "ops.person")

    issued = {}
    for workspace in (first, second):
        response = client.post(
            f"/v1/workspaces/{workspace.id}/tokens",
            json={"scopes": ["agents:read"]},
            headers=as_operator,
        )
        assert response.status_code == 201, response.text
        issued[workspace.id] = response.json()
        listed = client.get(
            f"/v1/workspaces/{workspace.id}/agents", headers=bearer(response.json()["token"])
        )
        assert listed.status_code == 200, listed.text

    removed = client.delete(f"/v1/workspaces/{first.id}/members/{operator.id}", headers=as_owner)
    assert removed.status_code == 204, removed.text

    gone = issued[first.id]
    refused = client.get(f"/v1/workspaces/{first.id}/agents", headers=bearer(gone["token"]))
    assert refused.status_code == 401, refused.text
    shown = client.get(f"/v1/tokens/{gone['accessor']}", headers=as_owner).json()
    assert shown["revoked_at"] is not None
    assert shown["revocation_reason"] == "membership removed"

    kept = issued[second.id]
    still = client.get(f"/v1/workspaces/{second.id}/agents", headers=bearer(kept["token"]))
    assert still.status_code == 200, still.text
    assert (
        client.get(f"/v1/tokens/{kept['accessor']}", headers=as_owner).json()["revoked_at"] is None
    )

    # The removed member's session no longer sees the workspace at all.
    outside = client.get(f"/v1/workspaces/{first.id}/agents", headers=as_operator)
    assert outside.status_code == 404, outside.text
    members = client.get(f"/v1/workspaces/{first.id}/members", headers=as_owner).json()
    assert [m["user_id"] for m in members] == [owner.id]
    again = client.delete(f"/v1/workspaces/{first.id}/members/{operator.id}", headers=as_owner)
    assert again.status_code == 404, again.text


def test_the_last_owner_cannot_be_removed(
    client: httpx.Client, session: Session, container: Container
) -> None:
    owner = factories.user(session, container, "only.owner")
    successor = factories.user(session, container, "next.owner")
    workspace = factories.workspace(session, "owned", owner=owner)
    session.commit()
    headers = login(client, "only.owner")
    members_url = f"/v1/workspaces/{workspace.id}/members"

    last = client.delete(f"{members_url}/{owner.id}", headers=headers)
    assert last.status_code == 409, last.text
    assert error_code(last) == "conflict"
    assert [m["role"] for m in client.get(members_url, headers=headers).json()] == ["owner"]

    added = client.post(
        members_url, json={"user_id": successor.id, "role": "owner"}, headers=headers
    )
    assert added.status_code == 201, added.text
    handover = client.delete(f"{members_url}/{owner.id}", headers=headers)
    assert handover.status_code == 204, handover.text

    as_successor = login(client, "next.owner")
    remaining = client.get(members_url, headers=as_successor).json()
    assert [(m["user_id"], m["role"]) for m in remaining] == [(successor.id, "owner")]
    alone_again = client.delete(f"{members_url}/{successor.id}", headers=as_successor)
    assert alone_again.status_code == 409, alone_again.text


# --- agents and plugins ----------------------------------------------------------------


def test_agents_create_list_show(
    client: httpx.Client, session: Session, container: Container
) -> None:
    factories.user(session, container, "agent.owner")
    session.commit()
    headers = login(client, "agent.owner")
    workspace = client.post("/v1/workspaces", json={"name": "agents-ws"}, headers=headers).json()
    agents_url = f"/v1/workspaces/{workspace['id']}/agents"

    created = []
    for name in ("builder", "reviewer", "deployer"):
        response = client.post(
            agents_url, json={"name": name, "description": f"the {name}"}, headers=headers
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["workspace_id"] == workspace["id"]
        assert body["description"] == f"the {name}"
        created.append(body)

    duplicate = client.post(agents_url, json={"name": "builder"}, headers=headers)
    assert duplicate.status_code == 409, duplicate.text

    listed = client.get(agents_url, headers=headers).json()
    assert [a["id"] for a in listed["items"]] == [a["id"] for a in created]
    assert listed["next_cursor"] is None

    paged, cursor = [], None
    while True:
        params = {"limit": "2"} if cursor is None else {"limit": "2", "cursor": cursor}
        page = client.get(agents_url, params=params, headers=headers).json()
        paged += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == [a["id"] for a in created]

    shown = client.get(f"{agents_url}/{created[1]['id']}", headers=headers)
    assert shown.status_code == 200, shown.text
    assert shown.json() == created[1]
    missing = client.get(f"{agents_url}/agt_doesnotexist", headers=headers)
    assert missing.status_code == 404, missing.text
    assert error_code(missing) == "not_found"


def test_community_plugins_wait_for_approval_and_core_plugins_do_not(
    client: httpx.Client, session: Session, container: Container
) -> None:
    owner = factories.user(session, container, "plug.owner")
    operator = factories.user(session, container, "plug.operator")
    security = factories.user(session, container, "plug.security")
    workspace = factories.workspace(session, "plugged", owner=owner)
    workspace.require_plugin_approval = True
    factories.member(session, workspace, operator, Role.OPERATOR)
    factories.member(session, workspace, security, Role.SECURITY)
    agent = factories.agent(session, workspace, "plugged-agent")
    session.commit()
    as_operator = login(client, "plug.operator")
    as_security = login(client, "plug.security")
    plugins_url = f"/v1/workspaces/{workspace.id}/agents/{agent.id}/plugins"

    community = client.post(
        plugins_url,
        json={"name": "web-search", "version": "2.1.0", "tier": "community", "enabled": True},
        headers=as_operator,
    )
    assert community.status_code == 201, community.text
    plugin = community.json()
    assert (plugin["enabled"], plugin["approval"], plugin["approved_by"]) == (
        False,
        "pending",
        None,
    )
    plugin_url = f"{plugins_url}/{plugin['id']}"

    early = client.patch(plugin_url, json={"enabled": True}, headers=as_operator)
    assert early.status_code == 409, early.text
    assert error_code(early) == "approval_required"

    not_allowed = client.post(f"{plugin_url}/approve", headers=as_operator)
    assert not_allowed.status_code == 403, not_allowed.text
    assert error_code(not_allowed) == "scope_missing"

    approved = client.post(f"{plugin_url}/approve", headers=as_security)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approval"] == "approved"
    assert approved.json()["approved_by"] == security.id
    assert approved.json()["enabled"] is False
    twice = client.post(f"{plugin_url}/approve", headers=as_security)
    assert twice.status_code == 409, twice.text

    enabled = client.patch(plugin_url, json={"enabled": True}, headers=as_operator)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["enabled"] is True

    core = client.post(
        plugins_url,
        json={"name": "calculator", "version": "1.0.0", "tier": "core"},
        headers=as_operator,
    )
    assert core.status_code == 201, core.text
    assert (core.json()["enabled"], core.json()["approval"]) == (True, "not_required")
    duplicate = client.post(
        plugins_url,
        json={"name": "calculator", "version": "1.0.1", "tier": "core"},
        headers=as_operator,
    )
    assert duplicate.status_code == 409, duplicate.text

    listed = client.get(plugins_url, headers=as_operator).json()
    assert {(p["name"], p["enabled"], p["approval"]) for p in listed} == {
        ("web-search", True, "approved"),
        ("calculator", True, "not_required"),
    }


def test_community_plugins_are_enabled_at_once_where_no_approval_is_required(
    client: httpx.Client, session: Session, container: Container
) -> None:
    owner = factories.user(session, container, "open.owner")
    workspace = factories.workspace(session, "open", owner=owner)
    agent = factories.agent(session, workspace, "open-agent")
    session.commit()
    response = client.post(
        f"/v1/workspaces/{workspace.id}/agents/{agent.id}/plugins",
        json={"name": "web-search", "version": "2.1.0", "tier": "community"},
        headers=login(client, "open.owner"),
    )
    assert response.status_code == 201, response.text
    assert (response.json()["enabled"], response.json()["approval"]) == (True, "not_required")


# --- users -----------------------------------------------------------------------------


def test_admin_creates_a_user_and_disabling_it_ends_its_tokens_and_sessions(
    client: httpx.Client, session: Session, container: Container
) -> None:
    admin = factories.user(session, container, "root.admin", is_admin=True)
    workspace = factories.workspace(session, "company", owner=admin)
    factories.user(session, container, "plain.user")
    session.commit()
    as_admin = login(client, "root.admin")

    created = client.post(
        "/v1/users", json={"username": "fresh.hire", "password": NEW_PASSWORD}, headers=as_admin
    )
    assert created.status_code == 201, created.text
    hire = created.json()
    assert (hire["username"], hire["is_admin"], hire["disabled_at"]) == (
        "fresh.hire",
        False,
        None,
    )
    assert "password" not in created.text
    duplicate = client.post(
        "/v1/users", json={"username": "fresh.hire", "password": NEW_PASSWORD}, headers=as_admin
    )
    assert duplicate.status_code == 409, duplicate.text
    assert "fresh.hire" in {u["username"] for u in client.get("/v1/users", headers=as_admin).json()}

    not_admin = client.post(
        "/v1/users",
        json={"username": "sneaky", "password": NEW_PASSWORD},
        headers=login(client, "plain.user"),
    )
    assert not_admin.status_code == 403, not_admin.text
    assert error_code(not_admin) == "scope_missing"

    added = client.post(
        f"/v1/workspaces/{workspace.id}/members",
        json={"user_id": hire["id"], "role": "operator"},
        headers=as_admin,
    )
    assert added.status_code == 201, added.text
    as_hire = login(client, "fresh.hire", NEW_PASSWORD)
    issued = client.post(
        f"/v1/workspaces/{workspace.id}/tokens", json={"scopes": ["agents:read"]}, headers=as_hire
    )
    assert issued.status_code == 201, issued.text
    token = issued.json()
    agents_url = f"/v1/workspaces/{workspace.id}/agents"
    assert client.get(agents_url, headers=bearer(token["token"])).status_code == 200
    assert client.get("/v1/me", headers=as_hire).status_code == 200

    disabled = client.post(f"/v1/users/{hire['id']}/disable", headers=as_admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled_at"] is not None

    for headers in (as_hire, bearer(token["token"])):
        refused = client.get("/v1/me", headers=headers)
        assert refused.status_code == 401, refused.text
        assert error_code(refused) == "unauthenticated"
    assert client.get(agents_url, headers=bearer(token["token"])).status_code == 401
    relogin = client.post(
        "/v1/auth/login", json={"username": "fresh.hire", "password": NEW_PASSWORD}
    )
    assert relogin.status_code == 401, relogin.text
    shown = client.get(f"/v1/tokens/{token['accessor']}", headers=as_admin).json()
    assert shown["revoked_at"] is not None
    assert shown["revocation_reason"] == "user disabled"

    self_disable = client.post(f"/v1/users/{admin.id}/disable", headers=as_admin)
    assert self_disable.status_code == 409, self_disable.text
    unknown = client.post("/v1/users/usr_doesnotexist/disable", headers=as_admin)
    assert unknown.status_code == 404, unknown.text


# --- two users at once -----------------------------------------------------------------


@dataclass
class Outcome:
    agent_ids: list[str]
    accessors: list[str]
    last_token: str


ROUNDS = 10  # one agent and one token per round: 20 writes per user


def _work(base_url: str, username: str, workspace_id: str, start: threading.Barrier) -> Outcome:
    with httpx.Client(base_url=base_url, timeout=60) as http:
        headers = login(http, username)
        outcome = Outcome([], [], "")
        start.wait(timeout=60)
        for round_number in range(ROUNDS):
            agent = http.post(
                f"/v1/workspaces/{workspace_id}/agents",
                json={"name": f"{username}-agent-{round_number}"},
                headers=headers,
            )
            assert agent.status_code == 201, agent.text
            outcome.agent_ids.append(agent.json()["id"])
            token = http.post(
                f"/v1/workspaces/{workspace_id}/tokens",
                json={"scopes": ["agents:read"], "agent_id": agent.json()["id"]},
                headers=headers,
            )
            assert token.status_code == 201, token.text
            outcome.accessors.append(token.json()["accessor"])
            outcome.last_token = token.json()["token"]
        return outcome


def test_two_users_work_concurrently_in_their_own_workspaces(
    engine_kind: str, tmp_path: Path
) -> None:
    """A committed database and a server of its own: the shared per-test connection of the
    `client` fixture cannot take concurrent requests."""
    with database_url(engine_kind, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            container = Container.build(
                settings_for(tmp_path / "home", database_url=url), engine=engine
            )
            workspaces: dict[str, str] = {}
            users: dict[str, str] = {}
            with transaction(container.session_factory) as db:
                for name in ("north", "south"):
                    owner = factories.user(db, container, f"{name}.owner")
                    workspaces[owner.username] = factories.workspace(
                        db, f"{name}.space", owner=owner
                    ).id
                    users[owner.username] = owner.id
            with ServerThread(create_app(container, background=False)) as server:
                _check_concurrent_work(server.url, workspaces, users)
        finally:
            engine.dispose()


def _check_concurrent_work(
    base_url: str, workspaces: dict[str, str], users: dict[str, str]
) -> None:
    start = threading.Barrier(len(workspaces))
    with ThreadPoolExecutor(max_workers=len(workspaces)) as pool:
        futures = {
            username: pool.submit(_work, base_url, username, workspace_id, start)
            for username, workspace_id in workspaces.items()
        }
        outcomes = {username: future.result() for username, future in futures.items()}

    with httpx.Client(base_url=base_url, timeout=60) as http:
        for username, workspace_id in workspaces.items():
            headers = login(http, username)
            mine = outcomes[username]
            agents = http.get(
                f"/v1/workspaces/{workspace_id}/agents", params={"limit": "500"}, headers=headers
            ).json()["items"]
            assert [a["id"] for a in agents] == mine.agent_ids
            assert all(a["name"].startswith(f"{username}-agent-") for a in agents)
            tokens = http.get(
                f"/v1/workspaces/{workspace_id}/tokens", params={"limit": "500"}, headers=headers
            ).json()["items"]
            assert [t["accessor"] for t in tokens] == mine.accessors
            assert {t["created_by"] for t in tokens} == {users[username]}

            events = http.get(
                "/v1/audit-events",
                params={"workspace_id": workspace_id, "limit": "500"},
                headers=headers,
            ).json()["items"]
            assert sorted(e["action"] for e in events) == (
                ["agent.create"] * ROUNDS + ["token.create"] * ROUNDS
            )
            assert {e["actor_id"] for e in events} == {users[username]}

            # An agent token sees its own agent only; the other workspace not at all.
            bound = http.get(
                f"/v1/workspaces/{workspace_id}/agents", headers=bearer(mine.last_token)
            ).json()["items"]
            assert [a["id"] for a in bound] == mine.agent_ids[-1:]
            for other, other_workspace in workspaces.items():
                if other != username:
                    refused = http.get(f"/v1/workspaces/{other_workspace}/agents", headers=headers)
                    assert refused.status_code == 404, refused.text
