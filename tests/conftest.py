"""Shared fixtures: real databases (SQLite and PostgreSQL), rolled back per test.

Every database-backed test runs once per engine. The PostgreSQL variant is skipped with a visible
reason when GATEHOUSE_TEST_POSTGRES_URL is unset, and fails instead when
GATEHOUSE_REQUIRE_POSTGRES=1 (CI sets both whenever a server answers on 127.0.0.1:5432).
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from controlplane import migrate
from controlplane.app import create_app
from controlplane.config import Settings
from controlplane.container import Container
from controlplane.db import make_engine
from tests.databases import database_url, postgres_base_url, postgres_required
from tests.live import ServerThread

ENGINES = ["sqlite", "postgresql"]


def test_settings(home: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": home,
        "multi_user": True,
        "database_url": None,
        "sentry_dsn": None,
        # Ordinary tests never start a runtime; tests/controlplane/supervisor opt in.
        "runtime_managed": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg] - pydantic-settings init kwarg


@pytest.fixture(scope="session", params=ENGINES)
def engine_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "postgresql" and postgres_base_url() is None:
        if postgres_required():
            pytest.fail("GATEHOUSE_REQUIRE_POSTGRES is set but GATEHOUSE_TEST_POSTGRES_URL is not")
        pytest.skip("PostgreSQL run skipped: GATEHOUSE_TEST_POSTGRES_URL is not set")
    return kind


@pytest.fixture(scope="session")
def engine(engine_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    directory = tmp_path_factory.mktemp(f"db-{engine_kind}")
    with database_url(engine_kind, directory) as url:
        migrated = make_engine(url)
        migrate.upgrade(migrated)
        yield migrated
        migrated.dispose()


@pytest.fixture(scope="session")
def base_container(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Container:
    home = tmp_path_factory.mktemp("home")
    return Container.build(test_settings(home), engine=engine)


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def committed_container(engine_kind: str, tmp_path: Path) -> Iterator[Container]:
    """A database of its own where every transaction really commits (no per-test rollback),
    for tests that need real concurrency: separate connections and real locks."""
    with database_url(engine_kind, tmp_path / "db") as url:
        (tmp_path / "db").mkdir(exist_ok=True)
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            yield Container.build(test_settings(tmp_path / "home"), engine=engine)
        finally:
            engine.dispose()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def container(base_container: Container, session_factory: sessionmaker[Session]) -> Container:
    return base_container.rebind(session_factory)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as db_session:
        yield db_session


@pytest.fixture(scope="session")
def server(base_container: Container) -> Iterator[tuple[FastAPI, ServerThread]]:
    app = create_app(base_container, background=False)
    with ServerThread(app) as thread:
        yield app, thread


@pytest.fixture
def app(server: tuple[FastAPI, ServerThread], container: Container) -> FastAPI:
    """The live app, serving this test's container (and so its rolled-back connection)."""
    live_app = server[0]
    live_app.state.container = container
    return live_app


@pytest.fixture
def client(app: FastAPI, server: tuple[FastAPI, ServerThread]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[1].url, timeout=30) as http:
        yield http
