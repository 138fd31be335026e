"""Who may call the runtime, and for which agent: the credential decides, nothing else."""

import logging

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.routing import APIRoute

from runtime.app import PUBLIC_PATHS
from runtime.contract import RunStart
from runtime.trust import authenticate
from tests.runtime.server.conftest import Runtime
from tests.runtime.server.wire import Minter, bearer, stream_run, user

pytestmark = pytest.mark.usefixtures("engine_kind")

RUN: dict[str, object] = {"agent_id": "helper", "messages": [user("hi")]}


def assert_unauthenticated(response: httpx.Response, credential: str | None = None) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "unauthenticated"
    assert set(body) == {"error", "detail", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"]
    if credential:
        assert credential not in response.text


def protected_requests(runtime: Runtime) -> list[tuple[str, str, dict[str, object] | None]]:
    helper = runtime.tenants.helper_id
    return [
        ("POST", "/v1/runs", RUN),
        (
            "POST",
            "/v1/runs/run_x/tool-results",
            {"results": [{"tool_call_id": "a", "content": ""}]},
        ),
        ("GET", "/v1/runs/run_x", None),
        ("GET", f"/v1/agents/{helper}/memories", None),
    ]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "bearer eyJhbGciOiJub25lIn0.e30.",  # pragma: allowlist secret
    ],
)
def test_requests_without_a_valid_credential_are_refused(
    runtime: Runtime, client: httpx.Client, header: str | None
) -> None:
    headers = {"authorization": header} if header else {}
    for method, path, body in protected_requests(runtime):
        response = client.request(method, path, json=body, headers=headers)
        assert_unauthenticated(response)


def test_expired_and_foreign_credentials_are_refused(
    runtime: Runtime, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    expired = runtime.minter.mint(runtime.tenants.workspace_id, expires_in=-60)
    forged = Minter(Ed25519PrivateKey.generate()).mint(runtime.tenants.workspace_id)
    for credential in (expired, forged):
        for method, path, body in protected_requests(runtime):
            response = client.request(method, path, json=body, headers=bearer(credential))
            assert_unauthenticated(response, credential)
        assert credential not in caplog.text
    assert "refused a runtime credential" in caplog.text


def test_every_route_but_health_and_metrics_requires_the_credential(runtime: Runtime) -> None:
    for route in runtime.app.routes:
        if not isinstance(route, APIRoute) or route.path in PUBLIC_PATHS:
            continue
        calls = {dependency.call for dependency in route.dependant.dependencies}
        assert authenticate in calls, f"{route.path} does not require the runtime credential"


def test_an_agent_of_another_workspace_is_not_found(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    for ref in (runtime.tenants.stranger_id, "stranger", "nobody"):
        response = client.post("/v1/runs", json={**RUN, "agent_id": ref}, headers=bearer(token))
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


def test_a_credential_bound_to_an_agent_runs_only_that_agent(
    runtime: Runtime, client: httpx.Client
) -> None:
    tenants = runtime.tenants
    bound = runtime.minter.mint(tenants.workspace_id, tenants.helper_id)

    refused = client.post("/v1/runs", json={**RUN, "agent_id": "other"}, headers=bearer(bound))
    assert refused.status_code == 403
    assert refused.json()["error"] == "agent_mismatch"
    by_id = client.post(
        "/v1/runs", json={**RUN, "agent_id": tenants.other_id}, headers=bearer(bound)
    )
    assert by_id.status_code == 403
    memories = client.get(f"/v1/agents/{tenants.other_id}/memories", headers=bearer(bound))
    assert memories.status_code == 403

    # Naming its own agent (by name or id), or none at all, runs it.
    for body in ({**RUN, "agent_id": "helper"}, {"messages": RUN["messages"]}):
        _, events = stream_run(client, bound, body)
        start = events[0]
        assert isinstance(start, RunStart)
        assert start.agent_id == tenants.helper_id


def test_an_unbound_credential_must_name_an_agent(client: httpx.Client, token: str) -> None:
    response = client.post("/v1/runs", json={"messages": [user("hi")]}, headers=bearer(token))

    assert response.status_code == 400
    assert response.json()["error"] == "agent_required"


@pytest.mark.parametrize(
    "body",
    [
        {"agent_id": "helper", "messages": []},
        {"agent_id": "helper", "messages": [{"role": "robot", "content": "x"}]},
        {"agent_id": "helper", "messages": [user("x")], "tools": [{"name": "bad name"}]},
        {"agent_id": "helper", "messages": [user("x")], "surprise": True},
        {"agent_id": "helper", "messages": [user("x")], "tools": [{"name": "a"}, {"name": "a"}]},
    ],
)
def test_bad_input_is_refused_in_the_one_error_shape(
    client: httpx.Client, token: str, body: dict[str, object]
) -> None:
    response = client.post("/v1/runs", json=body, headers=bearer(token))

    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert {"error", "detail", "request_id"} <= set(response.json())
    assert token not in response.text


def test_a_run_of_another_workspace_is_not_found(
    runtime: Runtime, client: httpx.Client, token: str
) -> None:
    _, events = stream_run(client, token, RUN)
    run_id = events[0].run_id
    stranger = runtime.minter.mint(runtime.tenants.stranger_workspace_id)

    response = client.get(f"/v1/runs/{run_id}", headers=bearer(stranger))
    assert response.status_code == 404
    assert client.get("/v1/runs/run_unknown", headers=bearer(token)).status_code == 404
