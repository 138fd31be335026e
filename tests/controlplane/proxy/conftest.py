"""Proxy fixtures: a fake provider on loopback and a Gatehouse pointed at it."""

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from controlplane.container import Container
from controlplane.kit.clock import utcnow
from tests import factories
from tests.controlplane.test_observability import (  # Sentry with a capturing transport
    sentry,  # noqa: F401 - a fixture, reused here rather than copied
)
from tests.fakes.providers import FakeProvider
from tests.live import ServerThread

OPENAI_KEY = "sk-fake-openai-key-0001"  # pragma: allowlist secret
ANTHROPIC_KEY = "sk-ant-fake-key-0002"  # pragma: allowlist secret


def away_from_a_minute_boundary() -> None:
    """Rate limits count per clock minute, and requests that straddle two minutes are rightly
    counted in both. Tests that count start where a few seconds of requests fit in one."""
    second = utcnow().second
    if second >= 45:
        time.sleep(61 - second)


@pytest.fixture(scope="session")
def provider_server() -> Iterator[tuple[FakeProvider, ServerThread]]:
    fake = FakeProvider()
    with ServerThread(fake) as thread:
        yield fake, thread


@pytest.fixture
def fake(provider_server: tuple[FakeProvider, ServerThread]) -> FakeProvider:
    provider = provider_server[0]
    provider.requests.clear()
    provider.sent_at.clear()
    provider.client_went_away = False
    return provider


@dataclass
class Proxied:
    url: str
    tenant: factories.Tenant
    agent_token: str  # proxy:invoke, bound to the tenant's agent
    owner_headers: dict[str, str]


@pytest.fixture
def proxied(
    app: FastAPI,
    container: Container,
    session_factory: sessionmaker[Session],
    session: Session,
    client: httpx.Client,
    fake: FakeProvider,
    provider_server: tuple[FakeProvider, ServerThread],
) -> Proxied:
    upstream = provider_server[1].url
    app.state.container = container.rebind(
        session_factory,
        upstream_openai_url=upstream,
        upstream_anthropic_url=upstream,
        upstream_openrouter_url=upstream,
    )
    tenant = factories.tenant(session, app.state.container, "acme")
    session.commit()
    owner = {"Authorization": f"Bearer {app.state.container.session_tokens.issue(tenant.owner.id)}"}
    for provider, key in (("openai", OPENAI_KEY), ("anthropic", ANTHROPIC_KEY)):
        response = client.put(
            f"/v1/workspaces/{tenant.workspace.id}/providers/{provider}",
            json={"api_key": key},
            headers=owner,
        )
        assert response.status_code in (200, 201), response.text
    return Proxied(f"{str(client.base_url).rstrip('/')}/proxy", tenant, tenant.agent_token, owner)
