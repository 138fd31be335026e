"""The process-wide objects: settings, engine, keys and the token verifier, built once.

The HTTP app, the CLI's local commands and the tests all build one of these; tests pass a
session factory bound to their rolled-back connection.
"""

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from controlplane.access_log.flusher import Flusher
from controlplane.access_log.retention import RetentionJob
from controlplane.access_log.runtime import build_access_log
from controlplane.access_log.spool import Spool
from controlplane.auth.principal import TokenGrant
from controlplane.auth.sessions import SessionTokens
from controlplane.auth.signing import Keyring
from controlplane.config import Settings
from controlplane.db import make_engine, make_session_factory, transaction
from controlplane.kit.epoch_cache import EpochCache
from controlplane.kit.keyfiles import load_symmetric_key
from controlplane.kit.passwords import Passwords
from controlplane.policies import repository as policy_repository
from controlplane.policies.engine import EffectivePolicy, window_of
from controlplane.policies.streams import StreamGate
from controlplane.providers.schemas import ResolvedCredential
from controlplane.proxy.delegation import RuntimeSigner
from controlplane.supervisor.supervisor import RuntimeSupervisor
from controlplane.tokens.maintenance import Chore, TokenMaintenance
from controlplane.tokens.models import POLICIES_EPOCH, PROVIDERS_EPOCH, TOKENS_EPOCH
from controlplane.tokens.usage import UsageTracker
from controlplane.tokens.verifier import TokenVerifier


@dataclass
class Container:
    settings: Settings
    engine: Engine
    session_factory: Callable[[], Session]
    token_key: bytes
    data_key: bytes
    keyring: Keyring
    session_tokens: SessionTokens
    passwords: Passwords
    verifier: TokenVerifier
    maintenance: TokenMaintenance
    spool: Spool
    flusher: Flusher
    retention: RetentionJob
    # The proxy's warm path: (workspace, agent) → policy; (workspace, agent, provider) → key.
    policy_cache: EpochCache[tuple[str, str | None], EffectivePolicy]
    credential_cache: EpochCache[tuple[str, str | None, str], ResolvedCredential]
    streams: StreamGate
    # Signs the credentials the proxy hands the runtime, and checks them when they come back.
    runtime_signer: RuntimeSigner
    # Started and stopped by the app's lifespan; None when no runtime is configured at all.
    runtime: RuntimeSupervisor | None

    @classmethod
    def build(
        cls,
        settings: Settings,
        engine: Engine | None = None,
        session_factory: Callable[[], Session] | None = None,
    ) -> "Container":
        settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        _create_private_sqlite_file(settings)
        engine = engine or make_engine(settings.resolved_database_url)
        session_factory = session_factory or make_session_factory(engine)
        keys_dir = settings.keys_dir
        token_key = load_symmetric_key(
            "token-hmac",
            settings.token_hmac_key,
            settings.token_hmac_key_file,
            keys_dir,
            dev_mode=settings.dev_mode,
        )
        data_key = load_symmetric_key(
            "data-encryption",
            settings.data_key,
            settings.data_key_file,
            keys_dir,
            dev_mode=settings.dev_mode,
        )
        keyring = Keyring(
            keys_dir / "signing", settings.signing_key_overlap_seconds, settings.signing_key_file
        )
        caches = _WarmCaches(settings)
        verifier, maintenance = _token_runtime(settings, token_key, session_factory, caches)
        spool, flusher = build_access_log(settings, session_factory)
        return cls(
            settings=settings,
            engine=engine,
            session_factory=session_factory,
            token_key=token_key,
            data_key=data_key,
            keyring=keyring,
            session_tokens=SessionTokens(
                keyring, settings.jwt_issuer, settings.jwt_audience, settings.session_ttl_seconds
            ),
            passwords=Passwords(
                settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism
            ),
            verifier=verifier,
            maintenance=maintenance,
            spool=spool,
            flusher=flusher,
            retention=RetentionJob.from_settings(settings, session_factory),
            policy_cache=caches.policies,
            credential_cache=caches.credentials,
            streams=StreamGate(),
            runtime_signer=RuntimeSigner.from_settings(settings),
            runtime=RuntimeSupervisor.from_settings(settings),
        )

    def rebind(self, session_factory: Callable[[], Session], **settings: object) -> "Container":
        """The same keys and settings over another session factory, with a fresh cache."""
        new_settings = self.settings.model_copy(update=settings)
        caches = _WarmCaches(new_settings)
        verifier, maintenance = _token_runtime(
            new_settings, self.token_key, session_factory, caches
        )
        spool, flusher = build_access_log(new_settings, session_factory)
        return dataclasses.replace(
            self,
            settings=new_settings,
            session_factory=session_factory,
            verifier=verifier,
            maintenance=maintenance,
            spool=spool,
            flusher=flusher,
            retention=RetentionJob.from_settings(new_settings, session_factory),
            policy_cache=caches.policies,
            credential_cache=caches.credentials,
            streams=StreamGate(),
        )


_RATE_WINDOW_PRUNE_SECONDS = 60.0


class _WarmCaches:
    """The three epoch-guarded caches, one per `cache_epochs` row, with the same bounds."""

    def __init__(self, settings: Settings) -> None:
        size, staleness = settings.token_cache_size, settings.token_cache_staleness_seconds
        self.tokens = EpochCache[str, TokenGrant](size, staleness)
        self.policies = EpochCache[tuple[str, str | None], EffectivePolicy](size, staleness)
        self.credentials = EpochCache[tuple[str, str | None, str], ResolvedCredential](
            size, staleness
        )

    def by_epoch(self) -> dict[str, EpochCache[Any, Any]]:
        return {
            TOKENS_EPOCH: self.tokens,
            POLICIES_EPOCH: self.policies,
            PROVIDERS_EPOCH: self.credentials,
        }


def _prune_rate_windows(session_factory: Callable[[], Session]) -> Chore:
    def prune_rate_windows() -> None:
        with transaction(session_factory) as session:
            # Windows before the current one are never read again.
            policy_repository.prune_windows(session, window_of(time.time()))

    return Chore(_RATE_WINDOW_PRUNE_SECONDS, prune_rate_windows)


def _token_runtime(
    settings: Settings,
    token_key: bytes,
    session_factory: Callable[[], Session],
    caches: _WarmCaches,
) -> tuple[TokenVerifier, TokenMaintenance]:
    usage = UsageTracker(settings.last_used_write_interval_seconds)
    return (
        TokenVerifier(token_key, session_factory, caches.tokens, usage),
        TokenMaintenance(
            session_factory,
            caches.by_epoch(),
            usage,
            settings.revocation_poll_seconds,
            chores=(_prune_rate_windows(session_factory),),
        ),
    )


def _create_private_sqlite_file(settings: Settings) -> None:
    """The embedded store holds password and token hashes: nobody else should read it."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
