"""POST /v1/auth/login: one answer for every failure, constant work, throttling, an audit trail."""

from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from controlplane import migrate
from controlplane.app import create_app
from controlplane.audit_events.models import AuditEvent
from controlplane.container import Container
from controlplane.db import make_engine, transaction
from controlplane.identity import repository as identity_repository
from controlplane.identity.models import User
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from tests import conftest, factories
from tests.controlplane.auth.test_passwords import assert_strong, parse
from tests.databases import database_url
from tests.live import ServerThread

REQUEST_ID = "login-test-request"
WRONG = "not the right password"


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post(
        "/v1/auth/login",
        json={"username": username, "password": password},
        headers={"X-Request-Id": REQUEST_ID},
    )


class CountingHasher:
    """Wraps the real argon2 hasher and counts full verifications; changes nothing else."""

    def __init__(self, inner: PasswordHasher) -> None:
        self.inner = inner
        self.verifications = 0

    def verify(self, stored: str, password: str) -> bool:
        self.verifications += 1
        return self.inner.verify(stored, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def hasher(container: Container, monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    spy = CountingHasher(container.passwords._hasher)
    monkeypatch.setattr(container.passwords, "_hasher", spy)  # undone after the test
    return spy


def test_login_issues_a_working_session(
    client: httpx.Client, session: Session, container: Container
) -> None:
    alice = factories.user(session, container, "alice")
    session.commit()
    response = login(client, "alice", factories.PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == container.settings.session_ttl_seconds
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["user"]["id"] == alice.id


def test_every_login_failure_looks_the_same_and_costs_one_argon2_verification(
    client: httpx.Client, session: Session, container: Container, hasher: CountingHasher
) -> None:
    factories.user(session, container, "alice")
    disabled = factories.user(session, container, "mallory")
    disabled.disabled_at = utcnow()
    # A user without a password (the admin from `gatehouse init`) cannot log in at all.
    identity_repository.add(
        session, User(id=new_id("usr"), username="admin", password_hash=None, is_admin=True)
    )
    session.commit()

    attempts = {
        "unknown user": ("nobody", factories.PASSWORD),
        "wrong password": ("alice", WRONG),
        "disabled user, right password": ("mallory", factories.PASSWORD),
        "no password set": ("admin", "dummy password for timing equalisation"),
    }
    bodies: dict[str, Any] = {}
    for label, (username, password) in attempts.items():
        before = hasher.verifications
        response = login(client, username, password)
        assert response.status_code == 401, (label, response.text)
        assert hasher.verifications - before == 1, label
        assert response.headers["www-authenticate"] == "Bearer"
        bodies[label] = response.json()
    assert all(body == bodies["unknown user"] for body in bodies.values()), bodies
    assert bodies["unknown user"] == {
        "error": "unauthenticated",
        "detail": "missing or invalid credentials",
        "request_id": REQUEST_ID,
    }
    # The control: a success costs the same single verification.
    before = hasher.verifications
    assert login(client, "alice", factories.PASSWORD).status_code == 200
    assert hasher.verifications - before == 1


def test_login_rehashes_a_weaker_stored_hash(
    client: httpx.Client, session: Session, container: Container
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(factories.PASSWORD)
    alice = factories.user(session, container, "alice")
    alice.password_hash = weak
    session.commit()

    assert login(client, "alice", factories.PASSWORD).status_code == 200
    session.expire_all()
    upgraded = session.scalars(select(User.password_hash).where(User.id == alice.id)).one()
    assert upgraded is not None
    assert upgraded != weak
    assert_strong(upgraded)
    assert parse(upgraded)["m"] == str(container.settings.argon2_memory_cost)
    assert container.passwords.verify(upgraded, factories.PASSWORD)
    # It still works, and a current hash is left alone.
    assert login(client, "alice", factories.PASSWORD).status_code == 200
    session.expire_all()
    assert session.scalars(select(User.password_hash).where(User.id == alice.id)).one() == upgraded


def test_a_failed_login_does_not_rehash(
    client: httpx.Client, session: Session, container: Container
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(factories.PASSWORD)
    alice = factories.user(session, container, "alice")
    alice.password_hash = weak
    session.commit()
    assert login(client, "alice", WRONG).status_code == 401
    session.expire_all()
    assert session.scalars(select(User.password_hash).where(User.id == alice.id)).one() == weak


def _failures(session: Session) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login.failure").order_by(AuditEvent.id)
        ).all()
    )


def test_account_is_throttled_after_too_many_failures(
    client: httpx.Client, session: Session, container: Container
) -> None:
    factories.user(session, container, "alice")
    factories.user(session, container, "bob")
    session.commit()
    limit = container.settings.login_max_failures_per_account
    assert limit < container.settings.login_max_failures_per_ip
    for _ in range(limit - 1):
        assert login(client, "alice", WRONG).status_code == 401
    # Below the limit the right password still works.
    assert login(client, "alice", factories.PASSWORD).status_code == 200
    assert login(client, "alice", WRONG).status_code == 401
    # At the limit, even the right password is refused, with a Retry-After.
    response = login(client, "alice", factories.PASSWORD)
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "rate_limited"
    assert int(response.headers["retry-after"]) >= 1
    assert "access_token" not in response.json()
    # Another account from the same address is not affected.
    assert login(client, "bob", factories.PASSWORD).status_code == 200


def test_address_is_throttled_after_too_many_failures(
    app: FastAPI,
    client: httpx.Client,
    session: Session,
    container: Container,
    session_factory: sessionmaker[Session],
) -> None:
    app.state.container = container.rebind(session_factory, login_max_failures_per_ip=3)
    factories.user(session, container, "alice")
    session.commit()
    # Different usernames each time: only the per-address count can add up.
    assert login(client, "nobody-1", WRONG).status_code == 401
    assert login(client, "nobody-2", WRONG).status_code == 401
    assert login(client, "alice", factories.PASSWORD).status_code == 200
    assert login(client, "nobody-3", WRONG).status_code == 401
    response = login(client, "alice", factories.PASSWORD)
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1


def test_failed_logins_are_in_the_audit_trail(
    client: httpx.Client, session: Session, container: Container
) -> None:
    factories.user(session, container, "alice")
    session.commit()
    secret_attempt = "a password that must not be logged"
    assert login(client, "alice", secret_attempt).status_code == 401
    assert login(client, "nobody", WRONG).status_code == 401
    failures = _failures(session)
    assert [event.target_id for event in failures] == ["alice", "nobody"]
    for event in failures:
        assert event.outcome == "failure"
        assert event.client_ip == "127.0.0.1"
        assert event.request_id == REQUEST_ID
        assert event.actor_type == "anonymous"
        assert secret_attempt not in repr(event.details)
        assert WRONG not in repr(event.details)
    # A success is audited as one, and adds no failure.
    assert login(client, "alice", factories.PASSWORD).status_code == 200
    assert len(_failures(session)) == 2
    session.expire_all()
    successes = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "login.success")
    ).all()
    assert len(successes) == 1


def test_failed_logins_are_recorded_with_real_connections(engine_kind: str, tmp_path: Path) -> None:
    """No shared test connection here: the failure's own transaction runs beside the request's
    on another pooled connection, as in production (where SQLite's write lock is real)."""
    with database_url(engine_kind, tmp_path / "db") as url:
        (tmp_path / "db").mkdir(exist_ok=True)
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            container = Container.build(conftest.test_settings(tmp_path / "home"), engine=engine)
            with transaction(container.session_factory) as db:
                db.add(
                    User(
                        id=new_id("usr"),
                        username="alice",
                        password_hash=container.passwords.hash(factories.PASSWORD),
                    )
                )
            limit = container.settings.login_max_failures_per_account
            app = create_app(container, background=False)
            with (
                ServerThread(app) as server,
                httpx.Client(base_url=server.url, timeout=120) as client,
            ):
                for _ in range(limit):
                    assert login(client, "alice", WRONG).status_code == 401
                assert login(client, "alice", factories.PASSWORD).status_code == 429
            with transaction(container.session_factory) as db:
                failures = db.scalars(
                    select(AuditEvent.target_id).where(AuditEvent.action == "login.failure")
                ).all()
            assert failures == ["alice"] * limit
        finally:
            engine.dispose()
