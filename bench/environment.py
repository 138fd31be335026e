"""A throwaway Gatehouse for benchmarks: fresh home, fresh database, one admin, one token.

Everything goes through the real code paths: `Container.build`, `migrate.upgrade`,
`bootstrap.bootstrap` and `tokens.issue`, exactly as `gatehouse init` and the API do.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from controlplane import migrate
from controlplane.config import Settings
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import transaction
from controlplane.identity import bootstrap
from controlplane.identity import service as identity
from controlplane.tokens import repository as token_repository
from controlplane.tokens import service as tokens
from controlplane.tokens.schemas import TokenCreate

CLIENT_IP = "127.0.0.1"
TOKEN_SCOPES = ["agents:read", "proxy:invoke"]


@dataclass(frozen=True)
class Environment:
    container: Container
    token: str  # the raw scoped (workspace) token
    token_accessor: str
    session_jwt: str
    user_id: str

    def read_epoch(self) -> int:
        with transaction(self.container.session_factory) as session:
            return token_repository.read_epoch(session.connection())


def bench_settings(home: Path, database_url: str | None) -> Settings:
    # Explicit values, so a GATEHOUSE_* variable or a stray `.env` cannot change what is measured.
    return Settings(
        _env_file=None,
        home=home,
        database_url=database_url,
        dev_mode=False,
        multi_user=False,
        token_hmac_key=None,
        token_hmac_key_file=None,
        data_key=None,
        data_key_file=None,
        signing_key_file=None,
        sentry_dsn=None,
    )


@contextmanager
def environment(home: Path, database_url: str | None = None) -> Iterator[Environment]:
    """Build, migrate and bootstrap; dispose of the engine afterwards."""
    container = Container.build(bench_settings(home, database_url))
    try:
        migrate.upgrade(container.engine)
        with transaction(container.session_factory) as session:
            ctx = Ctx(session=session, app=container, client_ip=CLIENT_IP, request_id="bench")
            user, workspace, _admin_token = bootstrap.bootstrap(ctx)
            owner = Ctx(
                session=session,
                app=container,
                principal=identity.principal_for_user(ctx, user.id),
                client_ip=CLIENT_IP,
                request_id="bench",
            )
            row, raw = tokens.issue(
                owner,
                workspace.id,
                TokenCreate(scopes=TOKEN_SCOPES, description="benchmark token", cidrs=[]),
            )
        yield Environment(
            container=container,
            token=raw,
            token_accessor=row.accessor,
            session_jwt=container.session_tokens.issue(user.id),
            user_id=user.id,
        )
    finally:
        container.engine.dispose()
