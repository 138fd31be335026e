"""A policy or provider-key change reaches every process: its own cache at commit, the others'
at their next epoch poll. Two containers over one database stand for two processes."""

from typing import Any

from pydantic import SecretStr

from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.identity import bootstrap
from controlplane.identity.models import User
from controlplane.kit.epoch_cache import EpochCache
from controlplane.policies import service as policies
from controlplane.policies.engine import EffectivePolicy
from controlplane.policies.schemas import PolicyRules
from controlplane.providers import service as providers
from controlplane.providers.schemas import ProviderCredentialSet, ResolvedCredential
from tests import factories

KEY = "sk-propagation-0123456789"  # pragma: allowlist secret


def _owner_and_workspace(container: Container) -> tuple[User, str]:
    with transaction(container.session_factory) as db:
        user, workspace, _ = bootstrap.bootstrap(Ctx(session=db, app=container))
    return user, workspace.id


def _prime(processes: tuple[Container, ...], cache_of: str, key: Any, value: Any) -> None:
    for process in processes:
        process.maintenance.poll_epoch()
        cache: EpochCache[Any, Any] = getattr(process, cache_of)
        cache.put(key, value, cache.generation)
        assert cache.get(key) is value


def test_a_policy_change_clears_every_process_policy_cache(committed_container: Container) -> None:
    one = committed_container
    two = one.rebind(one.session_factory)
    owner, workspace_id = _owner_and_workspace(one)
    key = (workspace_id, None)
    _prime((one, two), "policy_cache", key, EffectivePolicy())

    with transaction(one.session_factory) as db:
        ctx = factories.user_ctx(db, one, owner)
        policies.set_policy(ctx, workspace_id, None, PolicyRules(token_rpm=5))

    assert one.policy_cache.get(key) is None, "the changing process drops its copy at commit"
    assert two.policy_cache.get(key) is not None, "the other process has not polled yet"
    two.maintenance.poll_epoch()
    assert two.policy_cache.get(key) is None
    with transaction(two.session_factory, read_only=True) as db:
        assert policies.load_effective(db, workspace_id, None).token_rpm == 5


def test_a_provider_key_change_clears_every_process_key_cache(
    committed_container: Container,
) -> None:
    one = committed_container
    two = one.rebind(one.session_factory)
    owner, workspace_id = _owner_and_workspace(one)
    key = (workspace_id, None, "openai")
    stale = ResolvedCredential("openai", "sk-old-key-000000", None, None, "0" * 16)
    _prime((one, two), "credential_cache", key, stale)

    with transaction(one.session_factory) as db:
        ctx = factories.user_ctx(db, one, owner)
        providers.set_credential(
            ctx, workspace_id, "openai", ProviderCredentialSet(api_key=SecretStr(KEY))
        )

    assert one.credential_cache.get(key) is None
    assert two.credential_cache.get(key) is stale
    two.maintenance.poll_epoch()
    assert two.credential_cache.get(key) is None


def test_a_rolled_back_change_clears_nothing(committed_container: Container) -> None:
    one = committed_container
    owner, workspace_id = _owner_and_workspace(one)
    key = (workspace_id, None)
    _prime((one,), "policy_cache", key, EffectivePolicy())
    with transaction(one.session_factory) as db:
        policies.set_policy(
            factories.user_ctx(db, one, owner), workspace_id, None, PolicyRules(token_rpm=5)
        )
        db.rollback()
    one.maintenance.poll_epoch()
    assert one.policy_cache.get(key) is not None
