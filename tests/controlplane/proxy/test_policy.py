"""The workspace policy, applied by the proxy: every denial reason, answered and recorded."""

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from controlplane.container import Container
from tests import factories
from tests.controlplane.proxy.conftest import Proxied, away_from_a_minute_boundary
from tests.fakes.providers import FakeProvider

CHAT = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}


def _set_policy(
    client: httpx.Client, proxied: Proxied, rules: dict[str, Any], agent: bool = False
) -> None:
    path = f"/v1/workspaces/{proxied.tenant.workspace.id}"
    path += f"/agents/{proxied.tenant.agent.id}/policy" if agent else "/policy"
    response = client.put(path, json=rules, headers=proxied.owner_headers)
    assert response.status_code == 200, response.text


def _call(
    proxied: Proxied,
    upstream: str = "openai",
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> httpx.Response:
    path = "/v1/chat/completions" if upstream != "anthropic" else "/v1/messages"
    return httpx.post(
        f"{proxied.url}/{upstream}{path}",
        json=CHAT if body is None else body,
        headers={"Authorization": f"Bearer {token or proxied.agent_token}"},
        timeout=30,
    )


def _records(app: FastAPI, client: httpx.Client, proxied: Proxied) -> list[dict[str, Any]]:
    container: Container = app.state.container
    container.flusher.flush()
    response = client.get("/v1/access-log", headers=proxied.owner_headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize(
    ("rules", "body", "status", "reason"),
    [
        ({"upstreams": ["anthropic"]}, CHAT, 403, "upstream_not_allowed"),
        ({"models": ["claude-*", "gpt-4o-mini*"]}, CHAT, 403, "model_not_allowed"),
        ({"required_scope": "runtime:invoke"}, CHAT, 200, None),
        ({"cidrs": ["10.0.0.0/8"]}, CHAT, 403, "ip_not_allowed"),
        ({"max_body_bytes": 64}, {**CHAT, "padding": "x" * 200}, 413, "body_too_large"),
        ({"models": ["gpt-*"], "cidrs": ["127.0.0.0/8"]}, CHAT, 200, None),
    ],
    ids=["upstream", "model", "required-scope-held", "cidr", "body", "allowed"],
)
def test_each_rule_denies_with_its_reason_and_the_denial_is_recorded(
    proxied: Proxied,
    app: FastAPI,
    client: httpx.Client,
    fake: FakeProvider,
    rules: dict[str, Any],
    body: dict[str, Any],
    status: int,
    reason: str | None,
) -> None:
    _set_policy(client, proxied, rules)
    response = _call(proxied, body=body)
    assert response.status_code == status, response.text
    [record] = _records(app, client, proxied)
    assert record["status"] == status
    if reason is None:
        assert record["decision"] == "allow"
        assert len(fake.requests) == 1
        return
    assert response.json()["error"] == reason
    assert (record["decision"], record["reason"]) == ("deny", reason)
    assert record["upstream"] == "openai"
    assert fake.requests == [], "a denied request must never reach the provider"


def test_a_required_scope_the_token_lacks_is_scope_missing(
    proxied: Proxied, session: Session, app: FastAPI, client: httpx.Client, fake: FakeProvider
) -> None:
    _, proxy_only = factories.token(
        session, app.state.container, proxied.tenant.workspace, proxied.tenant.owner,
        ["proxy:invoke"],
    )  # fmt: skip
    session.commit()
    _set_policy(client, proxied, {"required_scope": "runtime:invoke"})
    response = _call(proxied, token=proxy_only)
    assert response.status_code == 403
    assert response.json()["error"] == "scope_missing"
    # The runtime always needs runtime:invoke, whatever the policy says.
    runtime = httpx.post(
        f"{proxied.url}/runtime/v1/runs",
        json={},
        headers={"Authorization": f"Bearer {proxy_only}"},
        timeout=30,
    )
    assert (runtime.status_code, runtime.json()["error"]) == (403, "scope_missing")
    assert fake.requests == []


def test_the_token_rate_limit_answers_429_with_retry_after(
    proxied: Proxied, app: FastAPI, client: httpx.Client, fake: FakeProvider
) -> None:
    _set_policy(client, proxied, {"token_rpm": 2})
    away_from_a_minute_boundary()
    statuses = [_call(proxied).status_code for _ in range(2)]
    refused = _call(proxied)
    assert statuses == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert len(fake.requests) == 2
    reasons = sorted(str(r["reason"]) for r in _records(app, client, proxied))
    assert reasons == ["None", "None", "rate_limited"]


def test_the_workspace_rate_limit_is_shared_by_its_tokens(
    proxied: Proxied, session: Session, app: FastAPI, client: httpx.Client, fake: FakeProvider
) -> None:
    _, second = factories.token(
        session, app.state.container, proxied.tenant.workspace, proxied.tenant.owner,
        ["proxy:invoke"],
    )  # fmt: skip
    session.commit()
    _set_policy(client, proxied, {"workspace_rpm": 3, "token_rpm": 2})
    away_from_a_minute_boundary()
    outcomes = [
        _call(proxied).status_code,
        _call(proxied).status_code,
        _call(proxied).status_code,  # the token's own limit
        _call(proxied, token=second).status_code,  # the workspace's third
        _call(proxied, token=second).status_code,  # the workspace's limit
    ]
    assert outcomes == [200, 200, 429, 200, 429]
    # A refusal by the workspace limit did not spend the token's count: nothing half-counted.
    assert len(fake.requests) == 3


def test_tokens_per_minute_count_what_the_upstream_reported(
    proxied: Proxied, client: httpx.Client, fake: FakeProvider
) -> None:
    # The fake reports 11 tokens in and 7 out: the first call spends 18 of 20, the second
    # starts under the limit and is admitted, the third finds it spent.
    _set_policy(client, proxied, {"token_tpm": 20})
    away_from_a_minute_boundary()
    outcomes = [_call(proxied).status_code for _ in range(3)]
    assert outcomes == [200, 200, 429]


def test_open_streams_per_token_are_capped(
    proxied: Proxied, client: httpx.Client, fake: FakeProvider
) -> None:
    _set_policy(client, proxied, {"max_streams_per_token": 1})
    url = f"{proxied.url}/openai/v1/chat/completions"
    headers = {"Authorization": f"Bearer {proxied.agent_token}"}
    slow = {**CHAT, "model": "slow", "stream": True}
    with httpx.stream("POST", url, json=slow, headers=headers, timeout=30) as first:
        assert first.status_code == 200
        second = _call(proxied)
        assert second.status_code == 429
        assert second.json()["error"] == "too_many_streams"
        first.read()
    assert _call(proxied).status_code == 200, "the slot is free again once the stream ends"


def test_an_agent_override_replaces_only_the_rules_it_sets(
    proxied: Proxied, client: httpx.Client, fake: FakeProvider
) -> None:
    _set_policy(client, proxied, {"upstreams": ["anthropic"], "models": ["gpt-*"]})
    assert _call(proxied).json()["error"] == "upstream_not_allowed"
    _set_policy(client, proxied, {"upstreams": ["openai"]}, agent=True)
    assert _call(proxied).status_code == 200
    # The workspace's model rule still applies to the agent.
    assert _call(proxied, body={**CHAT, "model": "o3"}).json()["error"] == "model_not_allowed"


def test_a_policy_change_applies_to_the_next_request(
    proxied: Proxied, client: httpx.Client, fake: FakeProvider
) -> None:
    assert _call(proxied).status_code == 200  # warms the policy cache
    _set_policy(client, proxied, {"upstreams": ["anthropic"]})
    assert _call(proxied).json()["error"] == "upstream_not_allowed"
    response = client.delete(
        f"/v1/workspaces/{proxied.tenant.workspace.id}/policy", headers=proxied.owner_headers
    )
    assert response.status_code == 204
    assert _call(proxied).status_code == 200
