"""Every proxied request, allowed or denied, leaves an access record; the proxy fails closed."""

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane.access_log.models import AccessLogEntry
from controlplane.container import Container
from controlplane.tokens.format import generate_token
from tests.controlplane.proxy.conftest import Proxied
from tests.fakes.providers import FakeProvider


def _records(app: FastAPI, client: httpx.Client, proxied: Proxied) -> list[dict[str, Any]]:
    container: Container = app.state.container
    container.flusher.flush()
    response = client.get("/v1/access-log", headers=proxied.owner_headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_an_allowed_stream_is_recorded_with_its_usage(
    proxied: Proxied, app: FastAPI, client: httpx.Client, fake: FakeProvider
) -> None:
    response = httpx.post(
        f"{proxied.url}/openai/v1/chat/completions",
        json={
            "model": "gpt-fake",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"Authorization": f"Bearer {proxied.agent_token}", "User-Agent": "agent/1.0"},
        timeout=30,
    )
    assert response.status_code == 200
    [record] = _records(app, client, proxied)
    assert record["request_id"] == response.headers["x-request-id"]
    assert record["decision"] == "allow"
    assert record["status"] == 200
    assert record["upstream"] == "openai"
    assert record["model"] == "gpt-fake"
    assert record["token_accessor"] == proxied.tenant.agent_token_accessor
    assert record["workspace_id"] == proxied.tenant.workspace.id
    assert record["agent_id"] == proxied.tenant.agent.id
    assert record["user_agent"] == "agent/1.0"
    assert record["streamed"] is True
    assert (record["tokens_in"], record["tokens_out"]) == (11, 7)
    assert record["bytes_out"] == len(response.content)
    assert record["error"] is None


def test_a_denial_is_recorded_with_its_reason(
    proxied: Proxied, app: FastAPI, client: httpx.Client, fake: FakeProvider
) -> None:
    # The fixture stores no OpenRouter key.
    response = httpx.post(
        f"{proxied.url}/openrouter/api/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": []},
        headers={"Authorization": f"Bearer {proxied.agent_token}"},
        timeout=30,
    )
    assert response.status_code == 409
    [record] = _records(app, client, proxied)
    assert record["decision"] == "deny"
    assert record["reason"] == "provider_not_configured"
    assert record["status"] == 409


def test_no_secret_reaches_the_log(
    proxied: Proxied,
    app: FastAPI,
    client: httpx.Client,
    session: Session,
    fake: FakeProvider,
) -> None:
    canary = generate_token()
    response = httpx.post(
        f"{proxied.url}/openai/v1/chat/completions?api_key={canary}&note=ok",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": canary}]},
        headers={"Authorization": f"Bearer {proxied.agent_token}", "x-canary": canary},
        timeout=30,
    )
    assert response.status_code == 200
    app.state.container.flusher.flush()
    rows = session.scalars(select(AccessLogEntry)).all()
    assert len(rows) == 1
    dumped = repr([{c.name: getattr(r, c.name) for c in r.__table__.columns} for r in rows])
    assert canary not in dumped
    assert proxied.agent_token not in dumped
    assert "note=ok" in dumped  # the harmless parameter stays, so the check above means something


def test_the_proxy_fails_closed_when_the_spool_is_unwritable(
    proxied: Proxied,
    app: FastAPI,
    session_factory: sessionmaker[Session],
    fake: FakeProvider,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "spool").write_text("a file where the spool directory should be")
    container: Container = app.state.container
    app.state.container = container.rebind(session_factory, home=home)
    response = httpx.post(
        f"{proxied.url}/openai/v1/chat/completions",
        json={"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {proxied.agent_token}"},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["error"] == "access_log_unavailable"
    assert fake.requests == []  # nothing was forwarded unlogged
