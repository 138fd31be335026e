"""The hot path: garbage never reaches the database, secrets never reach storage, and expiry
and use limits hold, on the cached path and under concurrency too."""

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from controlplane.app import create_app
from controlplane.auth.principal import TokenGrant
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import Base, transaction
from controlplane.errors import Forbidden, Unauthenticated
from controlplane.identity import bootstrap
from controlplane.identity import service as identity
from controlplane.kit.clock import utcnow
from controlplane.tokens import repository
from controlplane.tokens import service as tokens
from controlplane.tokens.format import generate_accessor, generate_token, secret_hmac
from controlplane.tokens.models import Token, TokenSecret
from controlplane.tokens.schemas import TokenCreate
from controlplane.tokens.verifier import ip_allowed
from tests import factories
from tests.databases import statements

assert create_app  # every model module is imported, so Base.metadata knows every table


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def _malformed_variants() -> list[str]:
    token = generate_token()
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    return [
        flipped,  # one character off: checksum fails
        token[:-1],
        token + "x",
        generate_accessor(),
        "gth_" + "0" * 36,
        "",
        "not a token at all",
    ]


# --- malformed input costs no database work ------------------------------------------------


def test_malformed_token_is_refused_before_any_sql(session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    for raw in _malformed_variants():
        with statements(container.engine) as seen, pytest.raises(Unauthenticated) as refused:
            container.verifier.verify(raw, "127.0.0.1")
        assert seen == [], (raw, seen)
        assert refused.value.reason == "malformed"

    # The control: a well-formed but unknown token does reach the database, and is refused.
    with statements(container.engine) as seen, pytest.raises(Unauthenticated) as refused:
        container.verifier.verify(generate_token(), "127.0.0.1")
    assert len(seen) >= 1
    assert refused.value.reason == "unknown"
    assert refused.value.grant is None

    # And the real one verifies.
    grant = container.verifier.verify(tenant.agent_token, "127.0.0.1")
    assert grant.accessor == tenant.agent_token_accessor


def test_malformed_token_over_http_runs_no_sql(
    client: httpx.Client, session: Session, container: Container
) -> None:
    factories.tenant(session, container, "acme")
    session.commit()
    for raw in _malformed_variants()[:5]:
        for headers in (_bearer(raw), {"x-api-key": raw}):
            with statements(container.engine) as seen:
                response = client.get("/v1/me", headers=headers)
            assert response.status_code == 401, response.text
            assert seen == [], (raw, seen)
    with statements(container.engine) as seen:
        response = client.get("/v1/me", headers=_bearer(generate_token()))
    assert response.status_code == 401
    assert len(seen) >= 1


# --- a refusal says why, and whose token it was ---------------------------------------------


def test_each_refusal_names_its_reason_and_the_dead_token_after_one_query(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    owner = factories.user_ctx(session, container, tenant.owner)
    issued = {
        state: factories.token(session, container, tenant.workspace, tenant.owner, ["agents:read"])
        for state in ("revoked", "suspended", "expired", "rotated")
    }
    tokens.revoke(owner, issued["revoked"][0].accessor, "done")
    tokens.suspend(owner, issued["suspended"][0].accessor, "investigating")
    session.execute(
        update(Token)
        .where(Token.id == issued["expired"][0].id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    tokens.rotate(owner, issued["rotated"][0].accessor, 0)
    session.commit()
    expected = {"revoked": "revoked", "suspended": "suspended", "expired": "expired"}
    expected["rotated"] = "expired"  # the old secret, retired at once
    for state, (row, raw) in issued.items():
        with statements(container.engine) as seen, pytest.raises(Unauthenticated) as refused:
            container.verifier.verify(raw, "127.0.0.1")
        assert refused.value.reason == expected[state], state
        grant = refused.value.grant
        assert grant is not None, state
        assert (grant.accessor, grant.workspace_id, grant.user_id) == (
            row.accessor,
            tenant.workspace.id,
            tenant.owner.id,
        )
        selects = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 1, (state, seen)
        # The public face of every refusal is the same.
        assert (refused.value.status_code, refused.value.code, refused.value.message) == (
            401,
            "unauthenticated",
            Unauthenticated.PUBLIC_MESSAGE,
        )
        assert refused.value.headers == {"WWW-Authenticate": "Bearer"}

    spent, spent_raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"], use_limit=1
    )
    session.commit()
    container.verifier.verify(spent_raw, "127.0.0.1")
    with pytest.raises(Unauthenticated) as refused:
        container.verifier.verify(spent_raw, "127.0.0.1")
    assert refused.value.reason == "use_limit_spent"
    assert refused.value.grant is not None
    assert refused.value.grant.accessor == spent.accessor


def test_every_refusal_looks_the_same_over_the_api(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    owner = factories.user_ctx(session, container, tenant.owner)
    revoked, revoked_raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"]
    )
    tokens.revoke(owner, revoked.accessor, "done")
    suspended, suspended_raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"]
    )
    tokens.suspend(owner, suspended.accessor, "investigating")
    expired, expired_raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"]
    )
    _set_expiry(session, expired.accessor, utcnow() - timedelta(seconds=1))
    presented: list[dict[str, str]] = [
        {},
        _bearer(_malformed_variants()[0]),
        _bearer(generate_token()),
        _bearer(revoked_raw),
        _bearer(suspended_raw),
        _bearer(expired_raw),
        {"Authorization": "Bearer not.a.session"},
    ]
    answers = []
    for headers in presented:
        response = client.get("/v1/me", headers=headers)
        request_id = response.headers["x-request-id"]
        answers.append(
            (
                response.status_code,
                response.content.replace(request_id.encode(), b"<id>"),
                # The request's own id and the clock's second differ between any two answers.
                sorted(
                    (k, v) for k, v in response.headers.items() if k not in {"x-request-id", "date"}
                ),
            )
        )
    assert answers[0][0] == 401
    assert all(answer == answers[0] for answer in answers), answers


# --- secrets never reach storage -----------------------------------------------------------


def _dump_database(session: Session) -> str:
    session.expire_all()
    parts: list[str] = []
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table)).all()
        parts.append(f"## {table.name} ({len(rows)} rows)")
        parts.extend(repr(tuple(row)) + " " + " ".join(str(value) for value in row) for row in rows)
    return "\n".join(parts)


def _dump_key_dir(directory: Path) -> str:
    parts: list[str] = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix not in (".key", ".pem"):
            parts.append(f"## {path}\n{path.read_text(errors='replace')}")
    return "\n".join(parts)


def test_no_token_secret_is_stored_anywhere(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    _, service_raw = factories.token(
        session,
        container,
        tenant.workspace,
        tenant.owner,
        ["tokens:write", "agents:read"],
        description="issued through the service",
    )
    session.commit()
    owner = _bearer(container.session_tokens.issue(tenant.owner.id))
    issued: list[str] = [tenant.agent_token, service_raw]
    accessors: list[str] = []
    for index in range(3):
        response = client.post(
            f"/v1/workspaces/{tenant.workspace.id}/tokens",
            headers=owner,
            json={
                "scopes": ["tokens:write", "agents:read"],
                "description": f"api {index}",
                "use_limit": 100,
            },
        )
        assert response.status_code == 201, response.text
        issued.append(response.json()["token"])
        accessors.append(response.json()["accessor"])
    # A child minted by a token, and a rotation (both the old and the new secret must stay out).
    child = client.post(
        f"/v1/workspaces/{tenant.workspace.id}/tokens",
        headers=_bearer(issued[2]),
        json={"scopes": ["agents:read"]},
    )
    assert child.status_code == 201, child.text
    issued.append(child.json()["token"])
    rotated = client.post(
        f"/v1/tokens/{accessors[1]}/rotate", headers=owner, json={"overlap_seconds": 600}
    )
    assert rotated.status_code == 200, rotated.text
    issued.append(rotated.json()["token"])
    # Use every token once (usage marks, use counts), and flush the last-used marks.
    for raw in issued:
        assert client.get("/v1/me", headers=_bearer(raw)).status_code == 200
    container.maintenance.flush_usage()
    # A failed authentication with one of the secrets slightly altered is audited nowhere either.
    assert client.get("/v1/me", headers=_bearer(issued[0][:-1])).status_code == 401

    dump = _dump_database(session) + "\n" + _dump_key_dir(container.settings.keys_dir)
    assert "## token_secrets" in dump
    assert "## audit_events" in dump
    assert len(set(issued)) == len(issued) == 7
    for raw in issued:
        body = raw[len("gth_") : len("gth_") + 30]
        assert raw not in dump
        assert body not in dump
        # Only a keyed HMAC is stored: not the plain SHA-256 either.
        assert hashlib.sha256(raw.encode()).hexdigest() not in dump
        assert secret_hmac(container.token_key, raw) in dump


# --- expiry ----------------------------------------------------------------------------------


def _set_expiry(session: Session, accessor: str, when: Any) -> None:
    session.execute(update(Token).where(Token.accessor == accessor).values(expires_at=when))
    session.commit()


def test_expired_token_is_refused(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    row, raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"], ttl_seconds=60
    )
    session.commit()
    assert row.expires_at <= utcnow() + timedelta(seconds=60)
    assert container.verifier.verify(raw, "127.0.0.1").accessor == row.accessor
    assert client.get("/v1/me", headers=_bearer(raw)).status_code == 200

    _set_expiry(session, row.accessor, utcnow() - timedelta(seconds=1))
    with pytest.raises(Unauthenticated):
        container.verifier.verify(raw, "127.0.0.1")
    assert client.get("/v1/me", headers=_bearer(raw)).status_code == 401
    # The other tokens of the tenant are untouched.
    assert client.get("/v1/me", headers=_bearer(tenant.agent_token)).status_code == 200


def test_cached_grant_expires_without_a_database_round_trip(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    row, raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"], ttl_seconds=60
    )
    session.commit()
    expires_at = utcnow() + timedelta(seconds=1)
    _set_expiry(session, row.accessor, expires_at)
    cache = container.verifier.cache
    epoch = repository.read_epoch(session.connection())
    cache.observe_epoch(epoch)
    container.verifier.verify(raw, "127.0.0.1")
    digest = container.verifier.digest(raw)
    assert cache.get(digest) is not None

    while utcnow() <= expires_at:
        time.sleep(0.05)
    cache.observe_epoch(epoch)  # the poller keeps the cache fresh; nothing changed in storage
    assert cache.get(digest) is not None, "the grant should still be cached"
    with statements(container.engine) as seen, pytest.raises(Unauthenticated) as refused:
        container.verifier.verify(raw, "127.0.0.1")
    assert refused.value.reason == "expired"
    assert seen == [], "the refusal should come from the cached grant"


# --- network restrictions ------------------------------------------------------------------


def test_token_is_refused_outside_its_networks(session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    _, raw = factories.token(
        session,
        container,
        tenant.workspace,
        tenant.owner,
        ["agents:read"],
        cidrs=["10.0.0.0/8"],
    )
    session.commit()
    assert container.verifier.verify(raw, "10.1.2.3").workspace_id == tenant.workspace.id
    for address in ("127.0.0.1", "11.0.0.1", None, "not-an-ip"):
        with pytest.raises(Forbidden):
            container.verifier.verify(raw, address)


# --- use limits ----------------------------------------------------------------------------


def test_use_limit_is_enforced_sequentially(session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    row, raw = factories.token(
        session, container, tenant.workspace, tenant.owner, ["agents:read"], use_limit=3
    )
    session.commit()
    for _ in range(3):
        container.verifier.verify(raw, "127.0.0.1")
    for _ in range(2):
        with pytest.raises(Unauthenticated) as refused:
            container.verifier.verify(raw, "127.0.0.1")
        assert refused.value.reason == "use_limit_spent"
    session.expire_all()
    assert session.scalars(select(Token.use_count).where(Token.id == row.id)).one() == 3


USE_LIMIT = 7
THREADS = 50


@pytest.mark.parametrize("warm_cache", [False, True], ids=["cold-cache", "warm-cache"])
def test_use_limit_holds_under_50_concurrent_verifications(
    committed_container: Container, warm_cache: bool
) -> None:
    container = committed_container
    with transaction(container.session_factory) as db:
        user, workspace, _ = bootstrap.bootstrap(Ctx(session=db, app=container))
    with transaction(container.session_factory) as db:
        base = Ctx(session=db, app=container, client_ip="127.0.0.1", request_id="setup")
        ctx = Ctx(
            session=db,
            app=container,
            principal=identity.principal_for_user(base, user.id),
            client_ip="127.0.0.1",
            request_id="setup",
        )
        row, raw = tokens.issue(
            ctx, workspace.id, TokenCreate(scopes=["agents:read"], use_limit=USE_LIMIT)
        )
    expected = USE_LIMIT
    if warm_cache:
        with transaction(container.session_factory) as db:
            container.verifier.cache.observe_epoch(repository.read_epoch(db.connection()))
        container.verifier.verify(raw, "127.0.0.1")  # primes the cache; spends one use
        assert container.verifier.cache.size == 1
        expected -= 1

    barrier = threading.Barrier(THREADS)

    def attempt(_: int) -> TokenGrant | str:
        barrier.wait(timeout=60)
        try:
            return container.verifier.verify(raw, "127.0.0.1")
        except Unauthenticated as refused:
            return refused.reason

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(attempt, range(THREADS)))  # any other error fails the test

    granted = [o for o in outcomes if isinstance(o, TokenGrant)]
    refused = [o for o in outcomes if not isinstance(o, TokenGrant)]
    assert len(granted) == expected
    assert refused == ["use_limit_spent"] * (THREADS - expected)
    with transaction(container.session_factory) as db:
        assert db.scalars(select(Token.use_count).where(Token.id == row.id)).one() == USE_LIMIT
    with pytest.raises(Unauthenticated):
        container.verifier.verify(raw, "127.0.0.1")


def test_token_secrets_table_holds_hmacs_keyed_by_the_server_key(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    digests = session.scalars(select(TokenSecret.secret_hmac)).all()
    assert digests == [secret_hmac(container.token_key, tenant.agent_token)]
    assert secret_hmac(b"another key" * 4, tenant.agent_token) not in digests


@pytest.mark.parametrize(
    ("cidrs", "client_ip", "allowed"),
    [
        ((), None, True),
        (("10.0.0.0/8",), "10.1.2.3", True),
        (("10.0.0.0/8",), "192.168.1.1", False),
        (("10.0.0.0/8",), None, False),
        (("10.0.0.0/8",), "not-an-address", False),
        (("10.0.0.0/8",), "::ffff:10.1.2.3", True),  # IPv4 through a dual-stack listener
        (("2001:db8::/32",), "2001:db8::1", True),
        (("2001:db8::/32",), "10.1.2.3", False),
    ],
)
def test_ip_allowed(cidrs: tuple[str, ...], client_ip: str | None, allowed: bool) -> None:
    assert ip_allowed(cidrs, client_ip) is allowed
