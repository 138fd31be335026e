"""The audit trail over HTTP: what each change records, who may read it, and paging."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from controlplane.kit.clock import utcnow
from tests import factories

EVENTS = "/v1/audit-events"
FACTORY_REQUEST_ID = "test"  # tests.factories.user_ctx


def login(client: httpx.Client, username: str, request_id: str | None = None) -> dict[str, str]:
    response = client.post(
        "/v1/auth/login",
        json={"username": username, "password": factories.PASSWORD},
        headers={"X-Request-Id": request_id} if request_id else {},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def list_all(client: httpx.Client, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get(EVENTS, params={"limit": "500", **params}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def ts(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["ts"])


@dataclass
class Change:
    request_id: str
    action: str
    target_type: str
    target_id: str
    actor_type: str
    actor_id: str
    workspace_id: str | None


@dataclass
class History:
    a: factories.Tenant
    b: factories.Tenant
    newcomer_id: str
    changes: list[Change]
    raw_tokens: list[str]
    started: datetime
    finished: datetime


@pytest.fixture
def history(client: httpx.Client, session: Session, container: Container) -> History:
    """Tenant A's owner (and one of A's tokens) make a series of changes, each request with an
    X-Request-Id of its own; tenant B makes one change in its own workspace."""
    a = factories.tenant(session, container, "audit-a")
    b = factories.tenant(session, container, "audit-b")
    newcomer = factories.user(session, container, "audit-newcomer")
    session.commit()
    owner = login(client, a.owner.username)
    ws = a.workspace.id
    changes: list[Change] = []
    raw_tokens = [a.agent_token, b.agent_token]
    started = utcnow()

    def change(
        method: str,
        path: str,
        body: Any,
        action: str,
        target_type: str,
        target: Any,
        headers: dict[str, str] = owner,
        actor: tuple[str, str] = ("user", a.owner.id),
        workspace_id: str | None = ws,
    ) -> dict[str, Any]:
        request_id = f"audit-test-{len(changes):03d}"
        response = client.request(
            method, path, json=body, headers={**headers, "X-Request-Id": request_id}
        )
        assert response.is_success, response.text
        assert response.headers["x-request-id"] == request_id
        result: dict[str, Any] = response.json() if response.content else {}
        target_id = target(result) if callable(target) else target
        changes.append(Change(request_id, action, target_type, target_id, *actor, workspace_id))
        return result

    agent = change(
        "POST",
        f"/v1/workspaces/{ws}/agents",
        {"name": "audited"},
        "agent.create",
        "agent",
        lambda r: r["id"],
    )
    plugin = change(
        "POST",
        f"/v1/workspaces/{ws}/agents/{agent['id']}/plugins",
        {"name": "search", "version": "1.0.0", "tier": "core"},
        "plugin.create",
        "plugin",
        lambda r: r["id"],
    )
    change(
        "PATCH",
        f"/v1/workspaces/{ws}/agents/{agent['id']}/plugins/{plugin['id']}",
        {"enabled": False},
        "plugin.disable",
        "plugin",
        plugin["id"],
    )
    change(
        "POST",
        f"/v1/workspaces/{ws}/members",
        {"user_id": newcomer.id, "role": "viewer"},
        "member.add",
        "user",
        newcomer.id,
    )
    token = change(
        "POST",
        f"/v1/workspaces/{ws}/tokens",
        {"scopes": ["agents:read", "agents:write"], "description": "ci"},
        "token.create",
        "token",
        lambda r: r["accessor"],
    )
    raw_tokens.append(token["token"])
    change(
        "POST",
        f"/v1/workspaces/{ws}/agents",
        {"name": "made-by-token"},
        "agent.create",
        "agent",
        lambda r: r["id"],
        headers=bearer(token["token"]),
        actor=("token", token["accessor"]),
    )
    rotated = change(
        "POST",
        f"/v1/tokens/{token['accessor']}/rotate",
        {"overlap_seconds": 0},
        "token.rotate",
        "token",
        token["accessor"],
    )
    raw_tokens.append(rotated["token"])
    change(
        "POST",
        f"/v1/tokens/{token['accessor']}/revoke",
        {"reason": "done"},
        "token.revoke",
        "token",
        token["accessor"],
    )
    change(
        "DELETE",
        f"/v1/workspaces/{ws}/members/{newcomer.id}",
        None,
        "member.remove",
        "user",
        newcomer.id,
    )
    change(
        "POST",
        f"/v1/workspaces/{b.workspace.id}/agents",
        {"name": "b-side"},
        "agent.create",
        "agent",
        lambda r: r["id"],
        headers=login(client, b.owner.username),
        actor=("user", b.owner.id),
        workspace_id=b.workspace.id,
    )
    return History(a, b, newcomer.id, changes, raw_tokens, started, utcnow())


def test_every_change_appends_one_event_with_who_what_when_where(
    client: httpx.Client, history: History
) -> None:
    a_changes = [c for c in history.changes if c.workspace_id == history.a.workspace.id]
    events = list_all(
        client, login(client, history.a.owner.username), workspace_id=history.a.workspace.id
    )
    by_request: dict[str | None, list[dict[str, Any]]] = {}
    for event in events:
        by_request.setdefault(event["request_id"], []).append(event)
    # Nothing but the changes made through the API was recorded, and the agent token the
    # factory issued (through the token service, whose test context has request_id "test").
    assert set(by_request) == {c.request_id for c in a_changes} | {FACTORY_REQUEST_ID}
    [issued] = by_request[FACTORY_REQUEST_ID]
    assert (issued["action"], issued["target_id"]) == (
        "token.create",
        history.a.agent_token_accessor,
    )

    for change in a_changes:
        [event] = by_request[change.request_id]
        assert event["action"] == change.action
        assert event["outcome"] == "success"
        assert (event["target_type"], event["target_id"]) == (change.target_type, change.target_id)
        assert (event["actor_type"], event["actor_id"]) == (change.actor_type, change.actor_id)
        assert event["workspace_id"] == history.a.workspace.id
        assert event["client_ip"] == "127.0.0.1"
        assert event["id"].startswith("evt_")
        assert history.started <= ts(event) <= history.finished
    api_made = [e for e in sorted(events, key=ts) if e["request_id"] != FACTORY_REQUEST_ID]
    assert [e["request_id"] for e in api_made] == [c.request_id for c in a_changes]


def test_tokens_appear_only_as_accessors(
    client: httpx.Client, session: Session, history: History
) -> None:
    events = list_all(client, login(client, history.a.owner.username))
    text = json.dumps(events)
    assert "gth_" not in text
    token_events = [e for e in events if e["target_type"] == "token"]
    assert len(token_events) == 4  # the factory's agent token, then create, rotate, revoke
    assert all(e["target_id"].startswith("acc_") for e in token_events)
    token_actor = [e for e in events if e["actor_type"] == "token"]
    assert [e["actor_id"][:4] for e in token_actor] == ["acc_"]

    # And in the table itself, every column, every event of every tenant.
    session.expire_all()
    rows = session.scalars(select(AuditEvent)).all()
    assert len(rows) >= len(history.changes)
    stored = json.dumps(
        [
            {column.name: getattr(row, column.key) for column in AuditEvent.__table__.columns}
            for row in rows
        ],
        default=str,
    )
    assert "gth_" not in stored
    for raw in history.raw_tokens:
        assert raw not in stored


def test_filters_by_workspace_action_and_time(client: httpx.Client, history: History) -> None:
    headers = login(client, history.a.owner.username)
    everything = list_all(client, headers)
    a_only = list_all(client, headers, workspace_id=history.a.workspace.id)
    assert {e["workspace_id"] for e in a_only} == {history.a.workspace.id}
    assert {e["id"] for e in a_only} <= {e["id"] for e in everything}

    created = list_all(client, headers, action="agent.create")
    assert len(created) == 2
    assert {e["action"] for e in created} == {"agent.create"}
    assert list_all(client, headers, action="no.such.action") == []

    ordered = sorted(a_only, key=ts)
    middle = ordered[len(ordered) // 2]
    since = list_all(client, headers, workspace_id=history.a.workspace.id, since=middle["ts"])
    assert {e["id"] for e in since} == {e["id"] for e in a_only if ts(e) >= ts(middle)}
    assert middle["id"] in {e["id"] for e in since}
    until = list_all(client, headers, workspace_id=history.a.workspace.id, until=middle["ts"])
    assert {e["id"] for e in until} == {e["id"] for e in a_only if ts(e) < ts(middle)}

    combined = list_all(
        client,
        headers,
        workspace_id=history.a.workspace.id,
        action="member.remove",
        since=middle["ts"],
    )
    assert [e["id"] for e in combined] == [
        e["id"] for e in a_only if e["action"] == "member.remove" and ts(e) >= ts(middle)
    ]
    assert len(combined) == 1


def test_cursor_pagination_returns_every_event_exactly_once(
    client: httpx.Client, history: History
) -> None:
    headers = login(client, history.a.owner.username)
    everything = list_all(client, headers, workspace_id=history.a.workspace.id)
    assert len(everything) >= 9
    for limit in (1, 2, 4, len(everything)):
        paged: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params = {"workspace_id": history.a.workspace.id, "limit": str(limit)}
            if cursor is not None:
                params["cursor"] = cursor
            page = client.get(EVENTS, params=params, headers=headers).json()
            assert len(page["items"]) <= limit
            paged += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
            pages += 1
            assert pages <= len(everything) + 1, "pagination does not terminate"
            if cursor is None:
                break
        assert paged == [e["id"] for e in everything], limit


def test_a_viewer_may_not_read_the_trail(client: httpx.Client, history: History) -> None:
    headers = login(client, history.a.viewer.username)
    refused = client.get(EVENTS, params={"workspace_id": history.a.workspace.id}, headers=headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "scope_missing"
    assert list_all(client, headers) == []
    by_token = client.get(
        EVENTS,
        params={"workspace_id": history.a.workspace.id},
        headers=bearer(history.a.agent_token),
    )
    assert by_token.status_code == 403, by_token.text


def test_another_tenant_cannot_read_the_trail(client: httpx.Client, history: History) -> None:
    a_identifiers = {
        history.a.workspace.id,
        history.a.owner.id,
        history.a.viewer.id,
        history.a.agent.id,
        history.a.agent_token_accessor,
        *(c.target_id for c in history.changes if c.workspace_id == history.a.workspace.id),
        *(c.request_id for c in history.changes if c.workspace_id == history.a.workspace.id),
    }
    for headers in (login(client, history.b.owner.username), bearer(history.b.agent_token)):
        refused = client.get(
            EVENTS, params={"workspace_id": history.a.workspace.id}, headers=headers
        )
        assert refused.status_code == 404, refused.text
        unknown = client.get(EVENTS, params={"workspace_id": "ws_doesnotexist"}, headers=headers)
        assert (unknown.status_code, unknown.json()["detail"]) == (
            refused.status_code,
            refused.json()["detail"],
        )
        for response in (refused, unknown):
            assert not [i for i in a_identifiers if i in response.text]

    visible = list_all(client, login(client, history.b.owner.username))
    # B's own: the factory-issued agent token and the agent B created.
    assert sorted(e["action"] for e in visible) == ["agent.create", "token.create"]
    assert {e["workspace_id"] for e in visible} == {history.b.workspace.id}
    assert not [i for i in a_identifiers if i in json.dumps(visible)]


def test_instance_events_are_for_admins_only(
    client: httpx.Client, session: Session, container: Container
) -> None:
    admin = factories.user(session, container, "audit-admin", is_admin=True)
    member = factories.tenant(session, container, "audit-plain")
    session.commit()
    as_admin = login(client, "audit-admin", request_id="admin-login-0001")
    created = client.post(
        "/v1/users",
        json={"username": "audit-created", "password": "a long enough password"},
        headers={**as_admin, "X-Request-Id": "admin-create-0002"},
    )
    assert created.status_code == 201, created.text
    disabled = client.post(
        f"/v1/users/{created.json()['id']}/disable",
        headers={**as_admin, "X-Request-Id": "admin-disable-0003"},
    )
    assert disabled.status_code == 200, disabled.text

    events = {e["request_id"]: e for e in list_all(client, as_admin)}
    login_event = events["admin-login-0001"]
    assert (login_event["action"], login_event["target_id"], login_event["actor_id"]) == (
        "login.success",
        admin.id,
        admin.id,
    )
    assert login_event["workspace_id"] is None
    assert events["admin-create-0002"]["action"] == "user.create"
    assert events["admin-create-0002"]["target_id"] == created.json()["id"]
    assert events["admin-disable-0003"]["action"] == "user.disable"
    assert events["admin-disable-0003"]["actor_id"] == admin.id
    assert "gth_" not in json.dumps(list(events.values()))

    # A workspace owner who is not an instance admin sees no instance events, not even its own
    # login.
    owner_view = list_all(client, login(client, member.owner.username))
    assert [e for e in owner_view if e["workspace_id"] is None] == []
