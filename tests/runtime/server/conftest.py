"""A real runtime server on loopback over a committed database (SQLite and PostgreSQL).

The runtime commits in transactions of its own, so each test module gets a database of its
own rather than a rolled-back connection. Credentials are minted here with a key generated for
the module, whose public half the server trusts.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from controlplane import migrate
from controlplane.config import Settings
from controlplane.db import make_engine, make_session_factory, transaction
from runtime.app import create_app
from runtime.credential import public_pem
from tests import factories
from tests.conftest import test_settings
from tests.databases import database_url
from tests.live import ServerThread
from tests.runtime.server.wire import Minter, OpenRun


@dataclass(frozen=True)
class Tenants:
    workspace_id: str
    helper_id: str  # agent "helper"
    other_id: str  # agent "other", same workspace
    stranger_workspace_id: str
    stranger_id: str  # agent "stranger", another workspace


@dataclass(frozen=True)
class Runtime:
    url: str
    app: FastAPI
    engine: Engine
    session_factory: sessionmaker[Session]
    settings: Settings
    tenants: Tenants
    minter: Minter


@pytest.fixture(scope="module")
def runtime_db(engine_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp(f"runtime-db-{engine_kind}")
    with database_url(engine_kind, directory) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        yield url


def _seed(session_factory: sessionmaker[Session]) -> Tenants:
    with transaction(session_factory) as session:
        workspace = factories.workspace(session, "acme")
        helper = factories.agent(session, workspace, "helper")
        other = factories.agent(session, workspace, "other")
        elsewhere = factories.workspace(session, "globex")
        stranger = factories.agent(session, elsewhere, "stranger")
        return Tenants(workspace.id, helper.id, other.id, elsewhere.id, stranger.id)


def runtime_settings(home: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "runtime_local_pacing_ms": 0,
        "runtime_trust_key_file": home / "trust.pub",
    }
    values.update(overrides)
    return test_settings(home, **values)


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Ed25519PrivateKey, Path]:
    home = tmp_path_factory.mktemp("runtime-home")
    key = Ed25519PrivateKey.generate()
    (home / "trust.pub").write_bytes(public_pem(key.public_key()))
    return key, home


@pytest.fixture(scope="module")
def runtime_overrides() -> dict[str, object]:
    """Settings a test module changes for its runtime (overridden there)."""
    return {}


@pytest.fixture(scope="module")
def runtime(
    runtime_db: str,
    signing_key: tuple[Ed25519PrivateKey, Path],
    runtime_overrides: dict[str, object],
) -> Iterator[Runtime]:
    key, home = signing_key
    settings = runtime_settings(home, runtime_db, **runtime_overrides)
    engine = make_engine(runtime_db)
    session_factory = make_session_factory(engine)
    tenants = _seed(session_factory)
    app = create_app(settings)
    try:
        with ServerThread(app) as server:
            yield Runtime(
                url=server.url,
                app=app,
                engine=engine,
                session_factory=session_factory,
                settings=settings,
                tenants=tenants,
                minter=Minter(key),
            )
    finally:
        engine.dispose()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[httpx.Client]:
    # Generous: only a failing test ever waits this long.
    with httpx.Client(base_url=runtime.url, timeout=30) as http:
        yield http


@pytest.fixture
def token(runtime: Runtime) -> str:
    """A credential for the workspace, bound to no agent."""
    return runtime.minter.mint(runtime.tenants.workspace_id)


@pytest.fixture
def open_runs() -> Iterator[list[OpenRun]]:
    runs: list[OpenRun] = []
    yield runs
    for run in runs:
        run.close()
