"""Shared by the policy tests: paths, credentials and response checks."""

from typing import Any

import httpx
from fastapi import FastAPI

from controlplane.container import Container
from controlplane.identity.models import User
from controlplane.policies.engine import RULES

NO_RULES = dict.fromkeys(RULES)


def policy(workspace_id: str, agent_id: str | None = None) -> str:
    path = f"/v1/workspaces/{workspace_id}"
    return path + (f"/agents/{agent_id}/policy" if agent_id else "/policy")


def session_of(app: FastAPI, who: User) -> dict[str, str]:
    """A session JWT issued directly: no login round trip (and no argon2 hash) per test."""
    container: Container = app.state.container
    return {"Authorization": f"Bearer {container.session_tokens.issue(who.id)}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def rules_of(record: dict[str, Any]) -> dict[str, Any]:
    return {rule: record[rule] for rule in RULES}


def refused(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    return body
