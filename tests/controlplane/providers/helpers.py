"""Shared by the provider tests: sample keys and small HTTP helpers."""

from typing import Any

import httpx

from tests import factories

OPENAI_KEY = "sk-proj-openai-0123456789abcdefXYZ1"
OTHER_KEY = "sk-proj-openai-fedcba9876543210ABC2"
ANTHROPIC_KEY = "sk-ant-api03-0123456789abcdefghij-WXYZ"


def login(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post(
        "/v1/auth/login", json={"username": username, "password": factories.PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def providers(workspace_id: str, provider: str = "") -> str:
    return f"/v1/workspaces/{workspace_id}/providers" + (f"/{provider}" if provider else "")


def put(
    client: httpx.Client,
    headers: dict[str, str],
    workspace_id: str,
    provider: str,
    api_key: str,
    **fields: Any,
) -> httpx.Response:
    return client.put(
        providers(workspace_id, provider), json={"api_key": api_key, **fields}, headers=headers
    )


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None
