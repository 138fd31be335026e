"""A rate limit under 100 concurrent requests admits exactly the limit.

On a database of its own with real commits, so every request has its own connection and the
count is decided by the database's locks, as it is between processes in production.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from pydantic import SecretStr

from controlplane.app import create_app
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.identity import bootstrap
from controlplane.policies import service as policies
from controlplane.policies.schemas import PolicyRules
from controlplane.providers import service as providers
from controlplane.providers.schemas import ProviderCredentialSet
from controlplane.tokens import service as tokens
from controlplane.tokens.schemas import TokenCreate
from tests import factories
from tests.controlplane.proxy.conftest import OPENAI_KEY, away_from_a_minute_boundary
from tests.fakes.providers import FakeProvider
from tests.live import ServerThread

LIMIT = 10
REQUESTS = 100


def _workspace_token(container: Container) -> str:
    with transaction(container.session_factory) as db:
        user, workspace, _ = bootstrap.bootstrap(Ctx(session=db, app=container))
    with transaction(container.session_factory) as db:
        ctx = factories.user_ctx(db, container, user)
        _, raw = tokens.issue(ctx, workspace.id, TokenCreate(scopes=["proxy:invoke"]))
        providers.set_credential(
            ctx, workspace.id, "openai", ProviderCredentialSet(api_key=SecretStr(OPENAI_KEY))
        )
        policies.set_policy(ctx, workspace.id, None, PolicyRules(token_rpm=LIMIT))
    return raw


def test_100_concurrent_requests_admit_exactly_the_limit(
    committed_container: Container, fake: FakeProvider, provider_server: tuple[object, ServerThread]
) -> None:
    container = committed_container.rebind(
        committed_container.session_factory, upstream_openai_url=provider_server[1].url
    )
    raw = _workspace_token(container)
    barrier = threading.Barrier(REQUESTS)

    with ServerThread(create_app(container, background=False)) as server:
        url = f"{server.url}/proxy/openai/v1/chat/completions"
        body = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}

        def attempt(_: int) -> tuple[int, str | None]:
            barrier.wait(timeout=60)
            response = httpx.post(
                url, json=body, headers={"Authorization": f"Bearer {raw}"}, timeout=60
            )
            code = response.json().get("error") if response.status_code != 200 else None
            return response.status_code, code

        away_from_a_minute_boundary()
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            outcomes = Counter(pool.map(attempt, range(REQUESTS)))

    assert outcomes == {(200, None): LIMIT, (429, "rate_limited"): REQUESTS - LIMIT}
    assert len(fake.requests) == LIMIT
