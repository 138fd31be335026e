"""Proxy policy over the live HTTP API: storage, merging, validation, who may change it, audit.

How the proxy applies a policy is tested in tests/controlplane/proxy/test_policy.py.
"""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from controlplane.auth.scopes import Role
from controlplane.container import Container
from tests import factories
from tests.controlplane.policies.helpers import (
    NO_RULES,
    bearer,
    ok,
    policy,
    refused,
    rules_of,
    session_of,
)

FULL = {
    "upstreams": ["openai", "anthropic"],
    "models": ["gpt-4o*", "claude-3-?-sonnet", "o[13]-mini"],
    "required_scope": "proxy:invoke",
    "token_rpm": 60,
    "token_tpm": 100_000,
    "workspace_rpm": 600,
    "workspace_tpm": 1_000_000,
    "max_body_bytes": 65_536,
    "max_streams_per_token": 4,
    "cidrs": ["10.0.0.0/8", "2001:db8::/32"],
}


@pytest.fixture
def tenant(session: Session, container: Container) -> factories.Tenant:
    made = factories.tenant(session, container, "acme")
    session.commit()
    return made


@pytest.fixture
def owner(app: FastAPI, tenant: factories.Tenant) -> dict[str, str]:
    return session_of(app, tenant.owner)


def test_a_policy_never_set_has_no_rules_and_no_timestamps(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws, agent = tenant.workspace.id, tenant.agent.id
    default = ok(client.get(policy(ws), headers=owner))
    assert default == {
        "workspace_id": ws,
        "agent_id": None,
        **NO_RULES,
        "anomaly_auto_suspend": False,
        "created_at": None,
        "updated_at": None,
    }
    override = ok(client.get(policy(ws, agent), headers=owner))
    assert (override["agent_id"], rules_of(override), override["created_at"]) == (
        agent,
        NO_RULES,
        None,
    )
    assert ok(client.get(f"/v1/workspaces/{ws}/policies", headers=owner)) == [default]
    effective = ok(client.get(policy(ws, agent) + "/effective", headers=owner))
    assert effective == {"workspace_id": ws, "agent_id": agent, **NO_RULES}


def test_put_then_get_round_trips_and_normalises_cidrs(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    written = ok(
        client.put(
            policy(ws), json={**FULL, "cidrs": ["10.1.2.3/8", "2001:db8::1/32"]}, headers=owner
        )
    )
    assert rules_of(written) == FULL
    assert written["created_at"] is not None
    assert written["updated_at"] == written["created_at"]
    assert ok(client.get(policy(ws), headers=owner)) == written
    assert rules_of(ok(client.get(policy(ws) + "/effective", headers=owner))) == FULL


def test_put_replaces_the_rules_wholesale(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws = tenant.workspace.id
    first = ok(client.put(policy(ws), json={"models": ["gpt-*"], "token_rpm": 10}, headers=owner))
    second = ok(client.put(policy(ws), json={"token_rpm": 5}, headers=owner))
    assert rules_of(second) == {**NO_RULES, "token_rpm": 5}
    # The same policy, replaced: it keeps its creation time.
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] >= first["updated_at"]
    emptied = ok(client.put(policy(ws), json={}, headers=owner))
    assert rules_of(emptied) == NO_RULES
    assert emptied["created_at"] == first["created_at"]


def test_an_override_wins_rule_by_rule_and_the_workspace_fills_the_rest(
    client: httpx.Client, session: Session, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws, agent = tenant.workspace.id, tenant.agent.id
    bystander = factories.agent(session, tenant.workspace, "acme-bystander")
    session.commit()
    ok(client.put(policy(ws), json=FULL, headers=owner))
    override_rules = {"models": ["gpt-4o-mini"], "token_rpm": 6, "cidrs": ["192.168.0.0/16"]}
    override = ok(client.put(policy(ws, agent), json=override_rules, headers=owner))
    assert rules_of(override) == {**NO_RULES, **override_rules}

    effective = ok(client.get(policy(ws, agent) + "/effective", headers=owner))
    assert effective == {"workspace_id": ws, "agent_id": agent, **FULL, **override_rules}
    # The workspace's own view, and another agent's, are the default alone.
    assert rules_of(ok(client.get(policy(ws) + "/effective", headers=owner))) == FULL
    other = ok(client.get(policy(ws, bystander.id) + "/effective", headers=owner))
    assert rules_of(other) == FULL

    listed = ok(client.get(f"/v1/workspaces/{ws}/policies", headers=owner))
    assert [(row["agent_id"], rules_of(row)) for row in listed] == [
        (None, FULL),
        (agent, {**NO_RULES, **override_rules}),
    ]

    ok(client.delete(policy(ws, agent), headers=owner), 204)
    assert rules_of(ok(client.get(policy(ws, agent) + "/effective", headers=owner))) == FULL
    ok(client.delete(policy(ws), headers=owner), 204)
    assert rules_of(ok(client.get(policy(ws, agent) + "/effective", headers=owner))) == NO_RULES


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"upstreams": ["mistral"]}, "body.upstreams[0]"),
        ({"upstreams": []}, "body.upstreams"),
        ({"models": []}, "body.models"),
        ({"colour": "red"}, "body.colour"),
        ({"cidrs": ["10.0.0.300/8"]}, "body.cidrs"),
        ({"cidrs": []}, "body.cidrs"),
        ({"token_rpm": 0}, "body.token_rpm"),
        ({"workspace_tpm": -1}, "body.workspace_tpm"),
        ({"required_scope": "agents:write"}, "body.required_scope"),
        ({"max_streams_per_token": 0}, "body.max_streams_per_token"),
    ],
    ids=[
        "unknown-upstream",
        "no-upstream",
        "no-model",
        "unknown-field",
        "bad-cidr",
        "no-cidr",
        "rpm-zero",
        "tpm-negative",
        "not-an-invoke-scope",
        "streams-zero",
    ],
)
def test_invalid_rules_are_refused_with_the_standard_error_and_nothing_is_stored(
    client: httpx.Client,
    tenant: factories.Tenant,
    owner: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    ws = tenant.workspace.id
    error = refused(client.put(policy(ws), json=body, headers=owner), 422, "validation_error")
    assert set(error) == {"error", "detail", "request_id", "fields"}
    assert [problem["field"] for problem in error["fields"]] == [field]
    assert ok(client.get(policy(ws), headers=owner))["created_at"] is None


def test_the_service_checks_answer_in_the_same_shape(
    client: httpx.Client, container: Container, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws, agent = tenant.workspace.id, tenant.agent.id
    ceiling = container.settings.proxy_max_body_bytes
    cases = [
        # A workspace's budget cannot be set per agent: each would see another cap.
        (policy(ws, agent), {"workspace_rpm": 10}, "body.workspace_rpm"),
        (policy(ws, agent), {"token_rpm": 1, "workspace_tpm": 10}, "body.workspace_tpm"),
        # The instance-wide ceiling always holds; a policy may only lower it.
        (policy(ws), {"max_body_bytes": ceiling + 1}, "body.max_body_bytes"),
        (policy(ws, agent), {"max_body_bytes": ceiling + 1}, "body.max_body_bytes"),
    ]
    for path, body, field in cases:
        error = refused(client.put(path, json=body, headers=owner), 422, "validation_error")
        assert set(error) == {"error", "detail", "request_id", "fields"}
        assert [problem["field"] for problem in error["fields"]] == [field], error
        assert field in error["detail"]
        assert ok(client.get(path, headers=owner))["created_at"] is None
    at_ceiling = ok(client.put(policy(ws), json={"max_body_bytes": ceiling}, headers=owner))
    assert at_ceiling["max_body_bytes"] == ceiling


def test_a_body_limit_is_refused_past_the_column_even_under_a_huge_ceiling(
    app: FastAPI,
    client: httpx.Client,
    container: Container,
    session_factory: sessionmaker[Session],
    tenant: factories.Tenant,
    owner: dict[str, str],
) -> None:
    # An instance may allow bodies above 2 GiB; the column is a 32-bit INTEGER all the same.
    app.state.container = container.rebind(session_factory, proxy_max_body_bytes=2**33)
    ws = tenant.workspace.id
    error = refused(
        client.put(policy(ws), json={"max_body_bytes": 2**32}, headers=owner),
        422,
        "validation_error",
    )
    assert [problem["field"] for problem in error["fields"]] == ["body.max_body_bytes"]
    largest = ok(client.put(policy(ws), json={"max_body_bytes": 2**31 - 1}, headers=owner))
    assert largest["max_body_bytes"] == 2**31 - 1


def test_deleting_a_policy_never_set_is_404(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws, agent = tenant.workspace.id, tenant.agent.id
    for path in (policy(ws), policy(ws, agent)):
        refused(client.delete(path, headers=owner), 404, "not_found")
        ok(client.put(path, json={"token_rpm": 1}, headers=owner))
        ok(client.delete(path, headers=owner), 204)
        assert ok(client.get(path, headers=owner))["created_at"] is None
        refused(client.delete(path, headers=owner), 404, "not_found")


def test_an_agent_bound_token_reads_its_own_policy_but_cannot_change_any(
    client: httpx.Client,
    session: Session,
    container: Container,
    tenant: factories.Tenant,
    owner: dict[str, str],
) -> None:
    ws, agent = tenant.workspace.id, tenant.agent.id
    other = factories.agent(session, tenant.workspace, "acme-other")
    _, raw = factories.token(
        session,
        container,
        tenant.workspace,
        tenant.owner,
        ["policy:read", "policy:write"],
        agent_id=agent,
    )
    session.commit()
    bound = bearer(raw)
    ok(client.put(policy(ws, agent), json={"token_rpm": 3}, headers=owner))
    ok(client.put(policy(ws, other.id), json={"token_rpm": 4}, headers=owner))

    for path in (policy(ws), policy(ws, agent)):
        refused(client.put(path, json={"token_rpm": 1000}, headers=bound), 403, "agent_bound")
        refused(client.delete(path, headers=bound), 403, "agent_bound")
    assert ok(client.get(policy(ws, agent), headers=bound))["token_rpm"] == 3
    # The list shows it the default and its own override, not its neighbours'.
    listed = ok(client.get(f"/v1/workspaces/{ws}/policies", headers=bound))
    assert [row["agent_id"] for row in listed] == [None, agent]
    assert ok(client.get(policy(ws, agent), headers=owner))["token_rpm"] == 3


def test_an_operator_reads_policy_but_cannot_write_it(
    app: FastAPI,
    client: httpx.Client,
    session: Session,
    container: Container,
    tenant: factories.Tenant,
    owner: dict[str, str],
) -> None:
    ws = tenant.workspace.id
    operator = factories.user(session, container, "acme-operator")
    factories.member(session, tenant.workspace, operator, Role.OPERATOR)
    session.commit()
    ok(client.put(policy(ws), json={"token_rpm": 7}, headers=owner))
    as_operator = session_of(app, operator)

    assert ok(client.get(policy(ws), headers=as_operator))["token_rpm"] == 7
    ok(client.get(policy(ws) + "/effective", headers=as_operator))
    ok(client.get(f"/v1/workspaces/{ws}/policies", headers=as_operator))
    for response in (
        client.put(policy(ws), json={"token_rpm": 70}, headers=as_operator),
        client.delete(policy(ws), headers=as_operator),
        client.put(policy(ws, tenant.agent.id), json={"token_rpm": 70}, headers=as_operator),
    ):
        assert "policy:write" in refused(response, 403, "scope_missing")["detail"]
    # A viewer holds neither scope.
    as_viewer = session_of(app, tenant.viewer)
    refused(client.get(policy(ws), headers=as_viewer), 403, "scope_missing")
    assert ok(client.get(policy(ws), headers=owner))["token_rpm"] == 7


def test_another_tenant_sees_neither_the_workspace_nor_its_agents(
    app: FastAPI,
    client: httpx.Client,
    session: Session,
    container: Container,
    tenant: factories.Tenant,
    owner: dict[str, str],
) -> None:
    ws, agent = tenant.workspace.id, tenant.agent.id
    rival = factories.tenant(session, container, "rival")
    session.commit()
    theirs = session_of(app, rival.owner)
    for path in (policy(ws), policy(ws, agent), policy(ws, agent) + "/effective"):
        refused(client.get(path, headers=theirs), 404, "not_found")
    refused(client.put(policy(ws), json={"token_rpm": 1}, headers=theirs), 404, "not_found")
    # An agent of another workspace is not found under this one.
    mixed = policy(rival.workspace.id, agent)
    refused(client.put(mixed, json={"token_rpm": 1}, headers=theirs), 404, "not_found")
    assert ok(client.get(policy(ws), headers=owner))["created_at"] is None


def test_changes_are_audited_with_their_rules(
    client: httpx.Client, tenant: factories.Tenant, owner: dict[str, str]
) -> None:
    ws, agent = tenant.workspace.id, tenant.agent.id
    ok(client.put(policy(ws), json={**FULL, "cidrs": ["10.1.2.3/8"]}, headers=owner))
    override = ok(client.put(policy(ws, agent), json={"models": ["gpt-*"]}, headers=owner))
    ok(client.delete(policy(ws, agent), headers=owner), 204)

    feed = ok(client.get("/v1/audit-events", params={"workspace_id": ws}, headers=owner))
    # The feed is in id order, and ids are issued in time order.
    events = [event for event in feed["items"] if event["action"].startswith("policy.")]
    assert [(event["action"], event["details"]) for event in events] == [
        ("policy.set", {"agent_id": None, **FULL, "cidrs": ["10.0.0.0/8"]}),
        ("policy.set", {"agent_id": agent, "models": ["gpt-*"]}),
        ("policy.delete", {"agent_id": agent}),
    ]
    for event in events:
        assert (event["target_type"], event["actor_id"]) == ("proxy_policy", tenant.owner.id)
    assert events[1]["target_id"] == events[2]["target_id"] != events[0]["target_id"]
    assert override["workspace_id"] == ws
