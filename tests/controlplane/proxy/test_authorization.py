"""Who may call through the proxy: a live workspace token with the right scope, nobody else."""

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session

from controlplane.tokens import service as tokens
from tests import factories
from tests.controlplane.proxy.conftest import OPENAI_KEY, Proxied
from tests.fakes.providers import FakeProvider


def _chat(proxied: Proxied, headers: dict[str, str], **extra: object) -> httpx.Response:
    body = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}], **extra}
    return httpx.post(
        f"{proxied.url}/openai/v1/chat/completions", json=body, headers=headers, timeout=30
    )


def test_missing_malformed_and_accessor_credentials_are_one_401(
    proxied: Proxied, fake: FakeProvider
) -> None:
    bodies = []
    for headers in (
        {},
        {"Authorization": "Bearer gth_not-a-real-token"},
        {"x-api-key": proxied.tenant.agent_token_accessor},
        {"Authorization": "Basic abc"},
    ):
        response = _chat(proxied, headers)
        assert response.status_code == 401
        body = response.json()
        body.pop("request_id")
        bodies.append(body)
    assert all(body == bodies[0] for body in bodies)
    assert fake.requests == []


def test_x_api_key_is_accepted(proxied: Proxied, fake: FakeProvider) -> None:
    response = _chat(proxied, {"x-api-key": proxied.agent_token})
    assert response.status_code == 200, response.text
    assert fake.requests[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"


def test_a_token_without_proxy_invoke_is_403(
    proxied: Proxied, session: Session, app: FastAPI, fake: FakeProvider
) -> None:
    _, raw = factories.token(
        session, app.state.container, proxied.tenant.workspace, proxied.tenant.owner,
        ["agents:read"],
    )  # fmt: skip
    session.commit()
    response = _chat(proxied, {"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403
    assert response.json()["error"] == "scope_missing"
    assert fake.requests == []


def test_a_revoked_token_is_refused_on_the_next_request(
    proxied: Proxied, session: Session, app: FastAPI, fake: FakeProvider
) -> None:
    headers = {"Authorization": f"Bearer {proxied.agent_token}"}
    assert _chat(proxied, headers).status_code == 200
    ctx = factories.user_ctx(session, app.state.container, proxied.tenant.owner)
    tokens.revoke(ctx, proxied.tenant.agent_token_accessor, "test")
    session.commit()
    assert _chat(proxied, headers).status_code == 401
    assert len(fake.requests) == 1


def test_another_workspace_uses_its_own_credential_or_none(
    proxied: Proxied, session: Session, app: FastAPI, fake: FakeProvider
) -> None:
    other = factories.tenant(session, app.state.container, "globex")
    session.commit()
    response = _chat(proxied, {"Authorization": f"Bearer {other.agent_token}"})
    # Globex configured no OpenAI key: acme's key is never used for it.
    assert response.status_code == 409
    assert response.json()["error"] == "provider_not_configured"
    assert fake.requests == []


def test_a_body_over_the_limit_is_413(
    proxied: Proxied, app: FastAPI, session_factory: object, fake: FakeProvider
) -> None:
    limit = app.state.container.settings.proxy_max_body_bytes
    response = _chat(
        proxied, {"Authorization": f"Bearer {proxied.agent_token}"}, padding="x" * (limit + 1)
    )
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert fake.requests == []


def test_a_personal_token_is_refused_for_the_proxy(
    proxied: Proxied, session: Session, app: FastAPI, fake: FakeProvider
) -> None:
    owner = proxied.tenant.owner
    _, raw = tokens.issue_personal_token(
        factories.user_ctx(session, app.state.container, owner), owner, "personal"
    )
    session.commit()
    response = _chat(proxied, {"Authorization": f"Bearer {raw}"})
    # A personal token belongs to no workspace, so no workspace's provider key may be chosen.
    assert response.status_code == 403
    assert response.json()["error"] == "workspace_token_required"
    assert fake.requests == []
