"""The runtime's credential: minted by the proxy for each forwarded run, taken back from the
runtime for the run's model calls, and worth nothing once its token is revoked."""

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from controlplane.container import Container
from runtime import credential
from tests.controlplane.proxy.conftest import OPENAI_KEY, Proxied
from tests.fakes.providers import FakeProvider
from tests.live import ServerThread

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def fronting(
    proxied: Proxied,
    app: FastAPI,
    session_factory: sessionmaker[Session],
    provider_server: tuple[FakeProvider, ServerThread],
) -> Container:
    """The fake upstream also stands in for the runtime: it records what it was sent."""
    container: Container = app.state.container
    app.state.container = container.rebind(session_factory, runtime_url=provider_server[1].url)
    return app.state.container


def _delegated(container: Container, proxied: Proxied) -> str:
    grant = container.verifier.verify(proxied.agent_token, None)
    return container.runtime_signer.mint_for(grant)


def _chat(proxied: Proxied, raw: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(
        f"{proxied.url}/openai/v1/chat/completions",
        json=body or CHAT,
        headers={"Authorization": f"Bearer {raw}"},
        timeout=30,
    )


def test_a_run_reaches_the_runtime_with_a_signed_stand_in_never_the_token(
    proxied: Proxied, fronting: Container, fake: FakeProvider
) -> None:
    response = httpx.post(
        f"{proxied.url}/runtime/v1/runs",
        json={"agent_id": "demo", "messages": []},
        headers={"Authorization": f"Bearer {proxied.agent_token}"},
        timeout=30,
    )
    assert response.status_code == 404  # the stand-in runtime knows no such path
    seen = fake.requests[-1]
    assert seen.path == "/v1/runs"
    assert proxied.agent_token not in str(seen.headers)
    scheme, _, minted = seen.headers["authorization"].partition(" ")
    claims = credential.verify(fronting.runtime_signer.public_key, minted)
    tenant = proxied.tenant
    assert scheme == "Bearer"
    assert (claims.workspace_id, claims.agent_id) == (tenant.workspace.id, tenant.agent.id)
    assert claims.token_accessor == tenant.agent_token_accessor
    assert "runtime:invoke" in claims.scopes


def test_the_runtime_calls_models_as_the_runs_token(
    proxied: Proxied, fronting: Container, fake: FakeProvider, app: FastAPI, client: httpx.Client
) -> None:
    response = _chat(proxied, _delegated(fronting, proxied))
    assert response.status_code == 200, response.text
    # The provider gets the workspace's key, not the runtime's credential.
    assert fake.requests[-1].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    fronting.flusher.flush()
    records = client.get("/v1/access-log", headers=proxied.owner_headers).json()["items"]
    assert records[0]["token_accessor"] == proxied.tenant.agent_token_accessor
    assert records[0]["upstream"] == "openai"


def test_revoking_the_token_stops_its_runs_model_calls_at_once(
    proxied: Proxied, fronting: Container, client: httpx.Client, fake: FakeProvider
) -> None:
    minted = _delegated(fronting, proxied)
    assert _chat(proxied, minted).status_code == 200
    revoked = client.post(
        f"/v1/tokens/{proxied.tenant.agent_token_accessor}/revoke", headers=proxied.owner_headers
    )
    assert revoked.status_code == 200, revoked.text
    refused = _chat(proxied, minted)
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthenticated")


def test_suspending_the_token_stops_its_runs_model_calls_until_it_is_resumed(
    proxied: Proxied, fronting: Container, client: httpx.Client, fake: FakeProvider
) -> None:
    accessor = proxied.tenant.agent_token_accessor
    minted = _delegated(fronting, proxied)
    assert _chat(proxied, minted).status_code == 200
    suspended = client.post(
        f"/v1/tokens/{accessor}/suspend",
        json={"reason": "investigating"},
        headers=proxied.owner_headers,
    )
    assert suspended.status_code == 200, suspended.text
    refused = _chat(proxied, minted)
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthenticated")

    fronting.flusher.flush()
    records = client.get("/v1/access-log", headers=proxied.owner_headers).json()["items"]
    [record] = [r for r in records if r["request_id"] == refused.headers["x-request-id"]]
    assert (record["reason"], record["token_accessor"]) == ("unauthenticated:suspended", accessor)

    resumed = client.post(f"/v1/tokens/{accessor}/resume", headers=proxied.owner_headers)
    assert resumed.status_code == 200, resumed.text
    assert _chat(proxied, minted).status_code == 200


def test_credentials_that_are_not_the_proxys_own_are_refused(
    proxied: Proxied, fronting: Container, fake: FakeProvider
) -> None:
    minted = _delegated(fronting, proxied)
    forged_key = Ed25519PrivateKey.generate()
    claims = credential.verify(fronting.runtime_signer.public_key, minted)
    forged = credential.mint(forged_key, claims)
    tampered = minted[:-4] + ("AAAA" if not minted.endswith("AAAA") else "BBBB")
    for raw in (forged, tampered):
        response = _chat(proxied, raw)
        assert (response.status_code, response.json()["error"]) == (401, "unauthenticated")
    # A run's credential cannot start further runs.
    nested = httpx.post(
        f"{proxied.url}/runtime/v1/runs",
        json={},
        headers={"Authorization": f"Bearer {minted}"},
        timeout=30,
    )
    assert nested.status_code == 401
    assert not [seen for seen in fake.requests if seen.path == "/v1/runs"]


def test_a_runs_model_calls_are_held_to_the_workspace_policy(
    proxied: Proxied, fronting: Container, client: httpx.Client, fake: FakeProvider
) -> None:
    workspace = proxied.tenant.workspace.id
    response = client.put(
        f"/v1/workspaces/{workspace}/policy",
        json={"models": ["claude-*"], "cidrs": ["10.0.0.0/8"]},
        headers=proxied.owner_headers,
    )
    assert response.status_code == 200, response.text
    minted = _delegated(fronting, proxied)
    # The address rule was the run's caller's to pass; the model rule applies to every call.
    refused = _chat(proxied, minted)
    assert (refused.status_code, refused.json()["error"]) == (403, "model_not_allowed")
