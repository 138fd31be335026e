"""`anomaly_auto_suspend`: the workspace policy's opt-in to automatic token suspension. Off by
default, on the workspace policy only, and read by anomaly detection without a principal."""

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session

from controlplane.container import Container
from controlplane.policies import service as policies
from tests import factories
from tests.controlplane.policies.helpers import NO_RULES, ok, policy, refused, rules_of, session_of


def test_the_opt_in_is_off_until_the_workspace_policy_sets_it(
    app: FastAPI, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    other = factories.tenant(session, container, "globex")
    session.commit()
    owner = session_of(app, tenant.owner)
    ws = tenant.workspace.id
    assert policies.auto_suspend_enabled(session, ws) is False  # no policy at all
    assert ok(client.get(policy(ws), headers=owner))["anomaly_auto_suspend"] is False

    ok(client.put(policy(ws), json={"token_rpm": 10}, headers=owner))
    session.expire_all()
    assert policies.auto_suspend_enabled(session, ws) is False  # a policy that leaves it out

    stored = ok(client.put(policy(ws), json={"anomaly_auto_suspend": True}, headers=owner))
    assert (stored["anomaly_auto_suspend"], rules_of(stored)) == (True, NO_RULES)
    session.expire_all()
    assert policies.auto_suspend_enabled(session, ws) is True
    assert policies.auto_suspend_enabled(session, other.workspace.id) is False
    assert ok(client.get(policy(ws), headers=owner))["anomaly_auto_suspend"] is True
    # Not a proxy rule: the effective policy does not carry it.
    assert "anomaly_auto_suspend" not in ok(client.get(policy(ws) + "/effective", headers=owner))
    # An agent's override neither holds it nor changes what the workspace says.
    ok(client.put(policy(ws, tenant.agent.id), json={"models": ["gpt-*"]}, headers=owner))
    session.expire_all()
    assert policies.auto_suspend_enabled(session, ws) is True

    # A PUT replaces the policy wholesale: leaving the opt-in out turns it off.
    ok(client.put(policy(ws), json={"token_rpm": 10}, headers=owner))
    session.expire_all()
    assert policies.auto_suspend_enabled(session, ws) is False
    ok(client.put(policy(ws), json={"anomaly_auto_suspend": True}, headers=owner))
    ok(client.delete(policy(ws), headers=owner), 204)
    session.expire_all()
    assert policies.auto_suspend_enabled(session, ws) is False


def test_an_agent_override_refuses_the_opt_in(
    app: FastAPI, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = session_of(app, tenant.owner)
    path = policy(tenant.workspace.id, tenant.agent.id)
    body = refused(
        client.put(path, json={"anomaly_auto_suspend": True}, headers=owner),
        422,
        "validation_error",
    )
    assert body["fields"] == [
        {
            "field": "body.anomaly_auto_suspend",
            "message": "a workspace setting; set it on the workspace policy",
        }
    ]
    # False is the default, so it is accepted (a stored override read back and sent again).
    stored = ok(
        client.put(path, json={"models": ["gpt-*"], "anomaly_auto_suspend": False}, headers=owner)
    )
    assert stored["anomaly_auto_suspend"] is False
    assert policies.auto_suspend_enabled(session, tenant.workspace.id) is False


def test_setting_the_opt_in_is_audited(
    app: FastAPI, client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    owner = session_of(app, tenant.owner)
    ws = tenant.workspace.id
    ok(client.put(policy(ws), json={"anomaly_auto_suspend": True}, headers=owner))
    ok(client.put(policy(ws), json={"token_rpm": 5}, headers=owner))
    feed = ok(client.get("/v1/audit-events", params={"workspace_id": ws}, headers=owner))
    details = [event["details"] for event in feed["items"] if event["action"] == "policy.set"]
    assert details == [
        {"agent_id": None, "anomaly_auto_suspend": True},
        {"agent_id": None, "token_rpm": 5},
    ]
