"""A refused credential: the access log says why, and whose token it was when one is known, while
the caller gets the very same 401 whatever the cause."""

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controlplane.access_log.models import AccessLogEntry
from controlplane.container import Container
from controlplane.kit.clock import utcnow
from controlplane.tokens import service as tokens
from controlplane.tokens.format import generate_token
from controlplane.tokens.models import Token
from tests import factories
from tests.controlplane.proxy.conftest import Proxied
from tests.fakes.providers import FakeProvider

CHAT = {"model": "gpt-fake", "messages": [{"role": "user", "content": "hi"}]}
# Headers that differ between any two responses, refused or not: the request's own id, and the
# clock's second.
PER_RESPONSE = {"x-request-id", "date"}


def _chat(proxied: Proxied, raw: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {raw}"} if raw is not None else {}
    return httpx.post(
        f"{proxied.url}/openai/v1/chat/completions", json=CHAT, headers=headers, timeout=30
    )


def _records(container: Container, session: Session) -> dict[str, AccessLogEntry]:
    """Every stored record by request id, read from the table: records of credentials that
    named no workspace are for instance admins only over the API."""
    container.flusher.flush()
    session.expire_all()
    return {row.request_id: row for row in session.scalars(select(AccessLogEntry)).all()}


def _flipped(raw: str) -> str:
    return raw[:10] + ("A" if raw[10] != "A" else "B") + raw[11:]


def _answer(response: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body and headers, with the request id taken out: what the caller can compare."""
    request_id = response.headers["x-request-id"]
    headers = sorted(
        (name, value) for name, value in response.headers.items() if name not in PER_RESPONSE
    )
    return response.status_code, response.content.replace(request_id.encode(), b"<id>"), headers


def test_each_refusal_is_logged_with_why_and_answered_identically(
    proxied: Proxied, app: FastAPI, session: Session, fake: FakeProvider
) -> None:
    container: Container = app.state.container
    tenant = proxied.tenant
    owner = factories.user_ctx(session, container, tenant.owner)

    def issue(**fields: Any) -> tuple[Token, str]:
        return factories.token(
            session,
            container,
            tenant.workspace,
            tenant.owner,
            ["proxy:invoke"],
            agent_id=tenant.agent.id,
            **fields,
        )

    revoked, revoked_raw = issue()
    tokens.revoke(owner, revoked.accessor, "done")
    suspended, suspended_raw = issue()
    tokens.suspend(owner, suspended.accessor, "investigating")
    expired, expired_raw = issue()
    session.execute(
        update(Token)
        .where(Token.id == expired.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    spent, spent_raw = issue(use_limit=1)
    session.commit()
    assert _chat(proxied, spent_raw).status_code == 200  # its one use

    named = {
        "revoked": (revoked_raw, revoked.accessor),
        "suspended": (suspended_raw, suspended.accessor),
        "expired": (expired_raw, expired.accessor),
        "use_limit_spent": (spent_raw, spent.accessor),
    }
    anonymous: dict[str, str | None] = {
        "missing": None,
        "malformed": _flipped(generate_token()),
        "unknown": generate_token(),  # well formed, never issued
    }
    cases: dict[str, tuple[str | None, str | None]] = {
        **{why: (raw, None) for why, raw in anonymous.items()},
        **named,
    }
    responses = {why: _chat(proxied, raw) for why, (raw, _) in cases.items()}
    assert len(fake.requests) == 1, "nothing refused may reach the provider"

    answers = {why: _answer(response) for why, response in responses.items()}
    first = answers["missing"]
    assert first[0] == 401
    for why, answer in answers.items():
        assert answer == first, why
    assert responses["revoked"].json()["error"] == "unauthenticated"
    assert responses["revoked"].headers["www-authenticate"] == "Bearer"

    records = _records(container, session)
    for why, (_, accessor) in cases.items():
        record = records[responses[why].headers["x-request-id"]]
        assert (record.decision, record.status, record.reason) == (
            "deny",
            401,
            f"unauthenticated:{why}",
        ), why
        assert record.upstream is None, why
        if accessor is None:
            who = (record.token_accessor, record.workspace_id, record.agent_id, record.user_id)
            assert who == (None, None, None, None), why
        else:
            assert (record.token_accessor, record.workspace_id) == (
                accessor,
                tenant.workspace.id,
            ), why
            assert (record.agent_id, record.user_id) == (tenant.agent.id, tenant.owner.id), why


def test_suspension_beats_a_cached_token_at_once_and_resume_restores_it(
    proxied: Proxied,
    app: FastAPI,
    client: httpx.Client,
    session: Session,
    fake: FakeProvider,
) -> None:
    container: Container = app.state.container
    accessor = proxied.tenant.agent_token_accessor
    digest = container.verifier.digest(proxied.agent_token)

    # The tests' server runs no poller: run it by hand, so that the cache answers.
    container.maintenance.poll_epoch()
    assert _chat(proxied, proxied.agent_token).status_code == 200
    container.maintenance.poll_epoch()
    assert container.verifier.cache.get(digest) is not None, "the grant should now be cached"

    suspend = client.post(
        f"/v1/tokens/{accessor}/suspend",
        json={"reason": "investigating"},
        headers=proxied.owner_headers,
    )
    assert suspend.status_code == 200, suspend.text
    refused = _chat(proxied, proxied.agent_token)
    assert refused.status_code == 401

    resume = client.post(f"/v1/tokens/{accessor}/resume", headers=proxied.owner_headers)
    assert resume.status_code == 200, resume.text
    assert _chat(proxied, proxied.agent_token).status_code == 200
    assert len(fake.requests) == 2

    record = _records(container, session)[refused.headers["x-request-id"]]
    assert (record.reason, record.token_accessor) == ("unauthenticated:suspended", accessor)
