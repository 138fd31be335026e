"""The process-wide objects: settings, engine, keys and the token verifier, built once.

The HTTP app, the CLI's local commands and the tests all build one of these; tests pass a
session factory bound to their rolled-back connection.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from controlplane.access_log.flusher import Flusher
from controlplane.access_log.runtime import build_access_log
from controlplane.access_log.spool import Spool
from controlplane.auth.sessions import SessionTokens
from controlplane.auth.signing import Keyring
from controlplane.config import Settings
from controlplane.db import make_engine, make_session_factory
from controlplane.kit.keyfiles import load_symmetric_key
from controlplane.kit.passwords import Passwords
from controlplane.tokens.cache import TokenCache
from controlplane.tokens.maintenance import TokenMaintenance
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
        verifier, maintenance = _token_runtime(settings, token_key, session_factory)
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
        )

    def rebind(self, session_factory: Callable[[], Session], **settings: object) -> "Container":
        """The same keys and settings over another session factory, with a fresh cache."""
        new_settings = self.settings.model_copy(update=settings)
        verifier, maintenance = _token_runtime(new_settings, self.token_key, session_factory)
        spool, flusher = build_access_log(new_settings, session_factory)
        return dataclasses.replace(
            self,
            settings=new_settings,
            session_factory=session_factory,
            verifier=verifier,
            maintenance=maintenance,
            spool=spool,
            flusher=flusher,
        )


def _token_runtime(
    settings: Settings, token_key: bytes, session_factory: Callable[[], Session]
) -> tuple[TokenVerifier, TokenMaintenance]:
    cache = TokenCache(settings.token_cache_size, settings.token_cache_staleness_seconds)
    usage = UsageTracker(settings.last_used_write_interval_seconds)
    return (
        TokenVerifier(token_key, session_factory, cache, usage),
        TokenMaintenance(session_factory, cache, usage, settings.revocation_poll_seconds),
    )


def _create_private_sqlite_file(settings: Settings) -> None:
    """The embedded store holds password and token hashes: nobody else should read it."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
