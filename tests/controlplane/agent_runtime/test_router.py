"""An agent's runtime settings over the live HTTP API: defaults, updates, validation, who may
change them, tenant isolation and the audit trail."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from tests import factories
from tests.controlplane.policies.helpers import bearer, ok, refused, session_of


@pytest.fixture
def tenant(session: Session, container: Container) -> factories.Tenant:
    made = factories.tenant(session, container, "acme")
    session.commit()
    return made


def _path(tenant: factories.Tenant, agent_id: str | None = None) -> str:
    return f"/v1/workspaces/{tenant.workspace.id}/agents/{agent_id or tenant.agent.id}/runtime"


def test_an_agent_never_configured_runs_on_the_local_provider(
    app: FastAPI, client: httpx.Client, tenant: factories.Tenant
) -> None:
    settings = ok(client.get(_path(tenant), headers=session_of(app, tenant.viewer)))
    assert settings == {
        "agent_id": tenant.agent.id,
        "workspace_id": tenant.workspace.id,
        "provider": "local",
        "model": "local-scripted",
        "parameters": {},
        "instructions": None,
        "configured": False,
        "updated_at": None,
    }


def test_setting_replaces_everything_and_is_audited(
    app: FastAPI, client: httpx.Client, session: Session, tenant: factories.Tenant
) -> None:
    owner = session_of(app, tenant.owner)
    body = {
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "parameters": {"temperature": 0.2, "max_tokens": 512},
        "instructions": "Be brief.",
    }
    stored = ok(client.put(_path(tenant), json=body, headers=owner))
    assert {key: stored[key] for key in body} == body
    assert stored["configured"] is True
    again = ok(client.put(_path(tenant), json={"provider": "local", "model": "m"}, headers=owner))
    assert (again["parameters"], again["instructions"]) == ({}, None)
    assert ok(client.get(_path(tenant), headers=owner)) == again
    session.expire_all()
    events = session.query(AuditEvent).filter_by(action="agent.runtime.update").all()
    assert [event.details["provider"] for event in events] == ["anthropic", "local"]
    # Parameter names only: values stay out of the trail.
    assert events[0].details["parameters"] == ["max_tokens", "temperature"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "gemini", "model": "x"}, "body.provider"),
        ({"provider": "openai", "model": ""}, "body.model"),
        ({"provider": "openai", "model": "x", "parameters": {"stream": False}}, "body.parameters"),
        ({"provider": "openai", "model": "x", "parameters": {"x": "y" * 5000}}, "body.parameters"),
        ({"provider": "openai", "model": "x", "surprise": 1}, "body.surprise"),
    ],
)
def test_bad_settings_are_refused_field_by_field(
    app: FastAPI,
    client: httpx.Client,
    tenant: factories.Tenant,
    body: dict[str, object],
    field: str,
) -> None:
    response = client.put(_path(tenant), json=body, headers=session_of(app, tenant.owner))
    problem = refused(response, 422, "validation_error")
    assert field in [item["field"] for item in problem["fields"]]


def test_who_may_change_them(
    app: FastAPI, client: httpx.Client, session: Session, tenant: factories.Tenant
) -> None:
    body = {"provider": "openai", "model": "gpt-4o-mini"}
    viewer = session_of(app, tenant.viewer)
    refused(client.put(_path(tenant), json=body, headers=viewer), 403, "scope_missing")
    # An agent-bound token cannot pick its own model, even holding agents:write.
    _, agent_bound = factories.token(
        session,
        app.state.container,
        tenant.workspace,
        tenant.owner,
        ["agents:read", "agents:write"],
        agent_id=tenant.agent.id,
    )
    session.commit()
    refused(client.put(_path(tenant), json=body, headers=bearer(agent_bound)), 403, "agent_bound")
    # Another tenant's agent does not exist, as far as this caller can tell.
    other = factories.tenant(session, app.state.container, "other")
    session.commit()
    owner = session_of(app, tenant.owner)
    refused(client.get(_path(tenant, other.agent.id), headers=owner), 404, "not_found")
    refused(client.get(_path(other), headers=owner), 404, "not_found")
