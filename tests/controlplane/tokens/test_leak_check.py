"""`POST /v1/tokens/leak-check`: what a found token is, and revoking it, by whoever holds it."""

import hashlib
import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from controlplane.kit.clock import utcnow
from controlplane.tokens import service as tokens
from controlplane.tokens.format import generate_token
from controlplane.tokens.models import Token
from controlplane.tokens.schemas import TokenCreate
from tests import factories
from tests.databases import statements

LEAK_CHECK = "/v1/tokens/leak-check"


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _sha(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _check(
    client: httpx.Client, caller: str, presented: list[str], *, revoke: bool = False
) -> list[dict[str, object]]:
    response = client.post(
        LEAK_CHECK, json={"tokens": presented, "revoke": revoke}, headers=_bearer(caller)
    )
    assert response.status_code == 200, response.text
    for raw in presented:
        assert raw not in response.text
    results: list[dict[str, object]] = response.json()["results"]
    return results


@pytest.fixture
def tenants(session: Session, container: Container) -> tuple[factories.Tenant, factories.Tenant]:
    a = factories.tenant(session, container, "leaky")
    b = factories.tenant(session, container, "finder")
    session.commit()
    return a, b


def test_each_token_is_named_by_hash_with_its_state_in_request_order(
    client: httpx.Client,
    session: Session,
    container: Container,
    tenants: tuple[factories.Tenant, factories.Tenant],
) -> None:
    a, b = tenants
    owner = factories.user_ctx(session, container, a.owner)
    revoked, revoked_raw = tokens.issue(owner, a.workspace.id, TokenCreate(scopes=["agents:read"]))
    tokens.revoke(owner, revoked.accessor, "done with it")
    expired, expired_raw = tokens.issue(owner, a.workspace.id, TokenCreate(scopes=["agents:read"]))
    session.execute(
        update(Token).where(Token.id == expired.id).values(expires_at=utcnow() - timedelta(1))
    )
    rotated, rotated_out_raw = tokens.issue(
        owner, a.workspace.id, TokenCreate(scopes=["agents:read"])
    )
    _, rotated_in_raw = tokens.rotate(owner, rotated.accessor, 0)
    session.commit()
    unknown_raw = generate_token()  # well formed, never issued
    presented = [
        a.agent_token,
        revoked_raw,
        expired_raw,
        "gth_not-a-token",
        unknown_raw,
        rotated_out_raw,
        rotated_in_raw,
        a.agent_token,
    ]

    # B's agent token: no scope over A at all, and it needs none.
    results = _check(client, b.agent_token, presented)

    assert [r["token_sha256"] for r in results] == [_sha(raw) for raw in presented]
    assert [(r["status"], r["accessor"]) for r in results] == [
        ("live", a.agent_token_accessor),
        ("revoked", revoked.accessor),
        ("expired", expired.accessor),
        ("unknown", None),
        ("unknown", None),
        ("expired", rotated.accessor),
        ("live", rotated.accessor),
        ("live", a.agent_token_accessor),
    ]
    assert not any(r["revoked_now"] for r in results)
    assert client.get("/v1/me", headers=_bearer(a.agent_token)).status_code == 200


def test_revoke_kills_live_tokens_and_their_trees_at_once(
    client: httpx.Client,
    session: Session,
    container: Container,
    tenants: tuple[factories.Tenant, factories.Tenant],
) -> None:
    a, b = tenants
    owner = factories.user_ctx(session, container, a.owner)
    parent, parent_raw = tokens.issue(owner, a.workspace.id, TokenCreate(scopes=["agents:read"]))
    child, child_raw = tokens.issue(
        owner,
        a.workspace.id,
        TokenCreate(scopes=["agents:read"], parent_accessor=parent.accessor),
    )
    session.commit()
    # Warm the cache: the revocation must reach it, not wait for an entry to age out.
    assert client.get("/v1/me", headers=_bearer(parent_raw)).status_code == 200

    results = _check(client, b.agent_token, [parent_raw, parent_raw, "nonsense"], revoke=True)

    assert [(r["status"], r["revoked_now"]) for r in results] == [
        ("revoked", True),
        ("revoked", False),
        ("unknown", False),
    ]
    assert client.get("/v1/me", headers=_bearer(parent_raw)).status_code == 401
    assert client.get("/v1/me", headers=_bearer(child_raw)).status_code == 401
    session.expire_all()
    for token in (parent, child):
        row = session.get(Token, token.id)
        assert row is not None
        assert row.revoked_at is not None
        assert row.revocation_reason == tokens.LEAK_REASON
        assert row.revoked_by == b.agent_token_accessor
    [event] = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "token.revoke", AuditEvent.target_id == parent.accessor
        )
    ).all()
    assert event.workspace_id == a.workspace.id
    assert event.actor_id == b.agent_token_accessor
    assert event.details == {
        "reason": tokens.LEAK_REASON,
        "revoked": sorted([parent.accessor, child.accessor]),
    }
    # Checking again finds it revoked, with nothing left to revoke.
    again = _check(client, b.agent_token, [parent_raw], revoke=True)
    assert (again[0]["status"], again[0]["revoked_now"]) == ("revoked", False)


def test_a_suspended_token_is_reported_and_revoke_makes_it_final(
    client: httpx.Client,
    session: Session,
    container: Container,
    tenants: tuple[factories.Tenant, factories.Tenant],
) -> None:
    a, b = tenants
    owner = factories.user_ctx(session, container, a.owner)
    tokens.suspend(owner, a.agent_token_accessor, "investigating")
    session.commit()

    [checked] = _check(client, b.agent_token, [a.agent_token])
    assert (checked["status"], checked["accessor"], checked["revoked_now"]) == (
        "suspended",
        a.agent_token_accessor,
        False,
    )
    # A leaked secret must not come back with a resume: revoking takes suspended ones too.
    [revoked] = _check(client, b.agent_token, [a.agent_token], revoke=True)
    assert (revoked["status"], revoked["revoked_now"]) == ("revoked", True)
    session.expire_all()
    row = session.scalars(select(Token).where(Token.accessor == a.agent_token_accessor)).one()
    assert row.revocation_reason == tokens.LEAK_REASON


def test_ill_formed_strings_never_reach_the_database(
    session: Session, container: Container, tenants: tuple[factories.Tenant, factories.Tenant]
) -> None:
    a, _ = tenants
    ctx = factories.user_ctx(session, container, a.owner)
    # A look-alike with a broken checksum, and other garbage.
    broken = a.agent_token[:-1] + ("A" if a.agent_token[-1] != "A" else "B")
    with statements(container.engine) as seen:
        results = tokens.check_leaked(ctx, [broken, "", "gth_", "x" * 500], revoke=True)
    assert [r.status for r in results] == ["unknown"] * 4
    assert seen == []
    with statements(container.engine) as seen:
        tokens.check_leaked(ctx, [a.agent_token, generate_token()], revoke=False)
    assert len([s for s in seen if "token_secrets" in s]) == 1


def test_a_credential_is_required_and_the_batch_is_bounded(
    client: httpx.Client, tenants: tuple[factories.Tenant, factories.Tenant]
) -> None:
    a, b = tenants
    anonymous = client.post(LEAK_CHECK, json={"tokens": [a.agent_token]})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthenticated"
    too_many = [generate_token() for _ in range(101)]
    refused = client.post(
        LEAK_CHECK, json={"tokens": too_many, "revoke": True}, headers=_bearer(b.agent_token)
    )
    assert refused.status_code == 422
    assert refused.json()["error"] == "validation_error"
    assert not any(raw in refused.text for raw in too_many)
    assert client.get("/v1/me", headers=_bearer(a.agent_token)).status_code == 200


def test_no_token_reaches_a_log_line(
    client: httpx.Client,
    caplog: pytest.LogCaptureFixture,
    tenants: tuple[factories.Tenant, factories.Tenant],
) -> None:
    a, b = tenants
    unknown = generate_token()
    with caplog.at_level(logging.DEBUG):
        _check(client, b.agent_token, [a.agent_token, unknown], revoke=True)
        client.post(
            LEAK_CHECK, json={"tokens": a.agent_token, "revoke": 1}, headers=_bearer(b.agent_token)
        )
        client.post(LEAK_CHECK, content=b'{"tokens": ["' + unknown.encode() + b'"', headers={})
    assert caplog.records, "nothing was logged at all: the capture is not working"
    assert a.agent_token not in caplog.text
    assert unknown not in caplog.text
