"""`GET /v1/access-log`: filters, paging by seq, and one tenant never sees another's traffic."""

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from controlplane.access_log import service
from controlplane.access_log.reader import Entry
from controlplane.access_log.records import FIELD_NAMES, AccessRecord
from controlplane.container import Container
from controlplane.kit.ids import new_id
from tests import factories
from tests.controlplane.access_log.conftest import T0, record

LOG = "/v1/access-log"


def login(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post(
        "/v1/auth/login", json={"username": username, "password": factories.PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def fetch(client: httpx.Client, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = client.get(LOG, params={"limit": "500", **params}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@dataclass
class Traffic:
    a: factories.Tenant
    b: factories.Tenant
    a_records: list[AccessRecord]
    b_records: list[AccessRecord]


def _tenant_records(tenant: factories.Tenant, prefix: str) -> list[AccessRecord]:
    base = {
        "workspace_id": tenant.workspace.id,
        "agent_id": tenant.agent.id,
        "token_accessor": tenant.agent_token_accessor,
        "user_id": tenant.owner.id,
    }
    return [
        record(f"{prefix}-ok-0001", ts=T0, status=200, **base),
        record(f"{prefix}-ok-0002", ts=T0 + timedelta(minutes=1), status=200, **base),
        record(
            f"{prefix}-deny-003",
            ts=T0 + timedelta(minutes=2),
            status=403,
            decision="deny",
            reason="model not allowed",
            **base,
        ),
        record(
            f"{prefix}-other-04",
            ts=T0 + timedelta(minutes=3),
            status=502,
            **{**base, "agent_id": "agt_other", "token_accessor": "acc_" + "o" * 20},
        ),
        record(f"{prefix}-late-005", ts=T0 + timedelta(hours=2), status=200, **base),
    ]


@pytest.fixture
def traffic(session: Session, container: Container) -> Traffic:
    a = factories.tenant(session, container, "alpha.tenant")
    b = factories.tenant(session, container, "bravo.tenant")
    a_records, b_records = _tenant_records(a, "alpha"), _tenant_records(b, "bravo")
    unscoped = record("nobody-0001", status=401, decision="deny", reason="unauthenticated")
    interleaved = [r for pair in zip(a_records, b_records, strict=True) for r in pair]
    service.append(session, [Entry(new_id("ent"), r) for r in [*interleaved, unscoped]])
    session.commit()
    return Traffic(a, b, a_records, b_records)


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["request_id"] for item in items]


def test_items_are_the_record_fields_plus_seq(client: httpx.Client, traffic: Traffic) -> None:
    items = fetch(client, login(client, traffic.a.owner.username))
    assert _ids(items) == [r.request_id for r in traffic.a_records]
    assert all(list(item) == ["seq", *FIELD_NAMES] for item in items)
    seqs = [item["seq"] for item in items]
    assert seqs == sorted(seqs)
    denied = items[2]
    assert (denied["decision"], denied["status"], denied["reason"]) == (
        "deny",
        403,
        "model not allowed",
    )


def test_filters(client: httpx.Client, traffic: Traffic) -> None:
    owner = login(client, traffic.a.owner.username)
    a = traffic.a
    assert _ids(fetch(client, owner, token=a.agent_token_accessor)) == [
        "alpha-ok-0001",
        "alpha-ok-0002",
        "alpha-deny-003",
        "alpha-late-005",
    ]
    assert _ids(fetch(client, owner, agent_id="agt_other")) == ["alpha-other-04"]
    assert _ids(fetch(client, owner, status="502")) == ["alpha-other-04"]
    assert _ids(fetch(client, owner, decision="deny")) == ["alpha-deny-003"]
    window = {
        "since": (T0 + timedelta(minutes=1)).isoformat(),
        "until": (T0 + timedelta(minutes=3)).isoformat(),
    }
    assert _ids(fetch(client, owner, **window)) == ["alpha-ok-0002", "alpha-deny-003"]
    assert _ids(
        fetch(client, owner, workspace_id=a.workspace.id, decision="allow", status="200")
    ) == [
        "alpha-ok-0001",
        "alpha-ok-0002",
        "alpha-late-005",
    ]
    refused = client.get(LOG, params={"decision": "maybe"}, headers=owner)
    assert refused.status_code == 422


def test_cursor_paging_returns_every_record_once(client: httpx.Client, traffic: Traffic) -> None:
    owner = login(client, traffic.a.owner.username)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = client.get(LOG, params=params, headers=owner)
        assert response.status_code == 200, response.text
        seen += _ids(response.json()["items"])
        cursor = response.json()["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert seen == [r.request_id for r in traffic.a_records]
    assert pages == 3


def test_another_tenant_sees_nothing_of_it(client: httpx.Client, traffic: Traffic) -> None:
    as_b = login(client, traffic.b.owner.username)
    visible = fetch(client, as_b)
    assert _ids(visible) == [r.request_id for r in traffic.b_records]
    a_identifiers = [traffic.a.workspace.id, traffic.a.agent.id, traffic.a.agent_token_accessor]
    assert not [i for i in a_identifiers if i in json.dumps(visible)]
    # Naming A's workspace is the same 404 as naming one that does not exist.
    theirs = client.get(LOG, params={"workspace_id": traffic.a.workspace.id}, headers=as_b)
    unknown = client.get(LOG, params={"workspace_id": new_id("ws")}, headers=as_b)
    assert theirs.status_code == unknown.status_code == 404
    assert {k: v for k, v in theirs.json().items() if k != "request_id"} == {
        k: v for k, v in unknown.json().items() if k != "request_id"
    }
    # A's filters from B's side match nothing.
    assert fetch(client, as_b, token=traffic.a.agent_token_accessor) == []
    assert fetch(client, as_b, agent_id=traffic.a.agent.id) == []


def test_the_scope_is_required(client: httpx.Client, traffic: Traffic) -> None:
    viewer = login(client, traffic.a.viewer.username)
    assert fetch(client, viewer) == []
    forbidden = client.get(LOG, params={"workspace_id": traffic.a.workspace.id}, headers=viewer)
    assert (forbidden.status_code, forbidden.json()["error"]) == (403, "scope_missing")
    agent = {"Authorization": f"Bearer {traffic.a.agent_token}"}  # proxy:invoke, no log access
    assert fetch(client, agent) == []
    assert client.get(LOG).status_code == 401


def test_workspace_tokens_see_their_workspace_and_agent_tokens_their_agent(
    client: httpx.Client, session: Session, container: Container, traffic: Traffic
) -> None:
    a = traffic.a
    _, workspace_token = factories.token(
        session, container, a.workspace, a.owner, ["access-log:read"]
    )
    _, agent_token = factories.token(
        session, container, a.workspace, a.owner, ["access-log:read"], agent_id=a.agent.id
    )
    session.commit()
    every = fetch(client, {"Authorization": f"Bearer {workspace_token}"})
    assert _ids(every) == [r.request_id for r in traffic.a_records]
    own = fetch(client, {"Authorization": f"Bearer {agent_token}"})
    assert _ids(own) == [r.request_id for r in traffic.a_records if r.agent_id == a.agent.id]
    assert fetch(client, {"Authorization": f"Bearer {agent_token}"}, agent_id="agt_other") == []


def test_records_outside_any_workspace_are_for_instance_admins(
    client: httpx.Client, session: Session, container: Container, traffic: Traffic
) -> None:
    factories.user(session, container, "log-admin", is_admin=True)
    session.commit()
    admin_view = fetch(client, login(client, "log-admin"))
    assert _ids(admin_view) == ["nobody-0001"]
    owner_view = fetch(client, login(client, traffic.a.owner.username))
    assert "nobody-0001" not in _ids(owner_view)
