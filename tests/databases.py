"""Real test databases: a SQLite file always, PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set.

Each PostgreSQL user (a test session, a server process group) gets a schema of its own,
selected through `search_path` in the URL, so runs never see each other's rows.
"""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, make_url, text

from controlplane.db import make_engine

POSTGRES_ENV = "GATEHOUSE_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "GATEHOUSE_REQUIRE_POSTGRES"


def normalise_postgres_url(url: str) -> str:
    """`postgresql://…` means psycopg 3 here, whatever SQLAlchemy's default driver is."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def postgres_base_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    return normalise_postgres_url(url) if url else None


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_POSTGRES_ENV, "") not in ("", "0", "false")


@contextmanager
def postgres_schema(base_url: str, prefix: str = "gh_test") -> Iterator[str]:
    """A fresh schema; yields a URL whose connections use it, and drops it afterwards."""
    base_url = normalise_postgres_url(base_url)
    schema = f"{prefix}_{secrets.token_hex(6)}"
    admin = make_engine(base_url, pool_size=1, max_overflow=0)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database_url(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'gatehouse.db'}"
        return
    base = postgres_base_url()
    if base is None:
        raise RuntimeError(f"{POSTGRES_ENV} is not set")
    with postgres_schema(base) as url:
        yield url


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent on `engine` (any connection, any thread) while inside."""
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)
