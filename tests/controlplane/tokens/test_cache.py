"""The verified-token cache: revoked keys must never keep working from it."""

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from controlplane.auth.principal import TokenGrant
from controlplane.container import Container
from controlplane.errors import Unauthenticated
from controlplane.kit.clock import utcnow
from controlplane.kit.epoch_cache import EpochCache
from controlplane.tokens import repository
from controlplane.tokens import service as tokens
from controlplane.tokens.models import Token
from tests import factories
from tests.databases import statements


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _grant(name: str = "a") -> TokenGrant:
    return TokenGrant(
        token_id=f"tok_{name}",
        accessor=f"acc_{name}",
        workspace_id="ws_1",
        agent_id=None,
        user_id="usr_1",
        scopes=frozenset({"agents:read"}),
        expires_at=datetime(2999, 1, 1, tzinfo=UTC),
        secret_valid_until=None,
        use_limit=None,
        cidrs=(),
    )


# --- EpochCache on its own -------------------------------------------------------------------


def test_cache_answers_only_while_a_poll_is_recent() -> None:
    clock = FakeClock()
    cache = EpochCache[str, TokenGrant](max_size=10, staleness_seconds=1.5, monotonic=clock)
    cache.put("d", _grant(), cache.generation)
    assert cache.get("d") is None, "never polled: the cache must not answer"
    cache.observe_epoch(1)
    cache.put("d", _grant(), cache.generation)
    assert cache.get("d") == _grant()
    clock.now += 1.4
    assert cache.get("d") == _grant()
    clock.now += 0.2  # 1.6 s since the last successful poll
    assert cache.get("d") is None
    cache.observe_epoch(1)  # same epoch: the entry is still valid and answers again
    assert cache.get("d") == _grant()


def test_epoch_change_clears_the_cache() -> None:
    clock = FakeClock()
    cache = EpochCache[str, TokenGrant](max_size=10, staleness_seconds=1.5, monotonic=clock)
    cache.observe_epoch(4)
    cache.put("d", _grant(), cache.generation)
    cache.observe_epoch(4)
    assert cache.get("d") is not None
    cache.observe_epoch(5)
    assert cache.get("d") is None
    assert cache.size == 0


def test_lookup_started_before_an_invalidation_cannot_insert() -> None:
    cache = EpochCache[str, TokenGrant](max_size=10, staleness_seconds=1.5, monotonic=FakeClock())
    cache.observe_epoch(1)
    started = cache.generation  # a lookup reads the generation, then goes to the database
    cache.invalidate()  # meanwhile a revocation commits
    cache.put("d", _grant(), started)
    assert cache.get("d") is None
    assert cache.size == 0
    # The same race through an epoch change seen by the poller.
    started = cache.generation
    cache.observe_epoch(2)
    cache.put("d", _grant(), started)
    assert cache.get("d") is None


def test_cache_size_zero_never_caches_and_a_full_cache_is_bounded() -> None:
    off = EpochCache[str, TokenGrant](max_size=0, staleness_seconds=1.5, monotonic=FakeClock())
    off.observe_epoch(1)
    off.put("d", _grant(), off.generation)
    assert off.get("d") is None
    small = EpochCache[str, TokenGrant](max_size=3, staleness_seconds=1.5, monotonic=FakeClock())
    small.observe_epoch(1)
    for index in range(10):
        small.put(f"d{index}", _grant(str(index)), small.generation)
        assert small.size <= 3
    assert small.get("d9") == _grant("9")


# --- the cache inside the running system ----------------------------------------------------


def _warm(container: Container, session: Session, raw: str) -> int:
    """Make the cache fresh, verify once so the grant is cached; return the epoch observed."""
    epoch = repository.read_epoch(session.connection())
    container.verifier.cache.observe_epoch(epoch)
    container.verifier.verify(raw, "127.0.0.1")
    container.verifier.cache.observe_epoch(epoch)
    with statements(container.engine) as seen:
        container.verifier.verify(raw, "127.0.0.1")
    assert seen == [], "the second verification should be served from the cache"
    assert container.verifier.cache.get(container.verifier.digest(raw)) is not None
    return epoch


def test_revocation_through_the_service_beats_a_cached_grant(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    epoch = _warm(container, session, tenant.agent_token)

    ctx = factories.user_ctx(session, container, tenant.owner)
    tokens.revoke(ctx, tenant.agent_token_accessor, "compromised")
    session.commit()
    # The poller has not run yet (it would still report the old epoch if it had been reading
    # before the commit); the in-process invalidation alone must do it.
    container.verifier.cache.observe_epoch(epoch)
    assert container.verifier.cache.size == 0
    with pytest.raises(Unauthenticated):
        container.verifier.verify(tenant.agent_token, "127.0.0.1")


def test_revocation_through_the_api_beats_a_cached_grant(
    client: httpx.Client, session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    agent = {"Authorization": f"Bearer {tenant.agent_token}"}
    epoch = _warm(container, session, tenant.agent_token)
    assert client.get("/v1/me", headers=agent).status_code == 200

    owner = {"Authorization": f"Bearer {container.session_tokens.issue(tenant.owner.id)}"}
    revoked = client.post(
        f"/v1/tokens/{tenant.agent_token_accessor}/revoke",
        headers=owner,
        json={"reason": "compromised"},
    )
    assert revoked.status_code == 200, revoked.text
    container.verifier.cache.observe_epoch(epoch)
    response = client.get("/v1/me", headers=agent)
    assert response.status_code == 401
    with pytest.raises(Unauthenticated):
        container.verifier.verify(tenant.agent_token, "127.0.0.1")


def test_revocation_by_another_process_reaches_the_cache_through_the_epoch(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    _warm(container, session, tenant.agent_token)
    # Another process revokes: it bumps the shared epoch, but cannot touch this cache.
    session.execute(
        update(Token)
        .where(Token.accessor == tenant.agent_token_accessor)
        .values(revoked_at=utcnow(), revoked_by="elsewhere", revocation_reason="test")
    )
    repository.bump_epoch(session)
    session.commit()
    assert container.verifier.cache.size == 1
    container.maintenance.poll_epoch()
    assert container.verifier.cache.size == 0
    with pytest.raises(Unauthenticated):
        container.verifier.verify(tenant.agent_token, "127.0.0.1")


def test_a_stale_cache_is_not_trusted(session: Session, container: Container) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    # Never polled: every verification goes to the database.
    for _ in range(2):
        with statements(container.engine) as seen:
            container.verifier.verify(tenant.agent_token, "127.0.0.1")
        assert len(seen) >= 1


def test_rotation_without_overlap_beats_a_cached_grant(
    session: Session, container: Container
) -> None:
    tenant = factories.tenant(session, container, "acme")
    session.commit()
    epoch = _warm(container, session, tenant.agent_token)
    ctx = factories.user_ctx(session, container, tenant.owner)
    _, new_raw = tokens.rotate(ctx, tenant.agent_token_accessor, 0)
    session.commit()
    container.verifier.cache.observe_epoch(epoch)
    with pytest.raises(Unauthenticated):
        container.verifier.verify(tenant.agent_token, "127.0.0.1")
    assert container.verifier.verify(new_raw, "127.0.0.1").accessor == tenant.agent_token_accessor
