"""Migrations run from empty to head and one step down, on both engines, and match the models."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from controlplane import migrate
from controlplane.db import Base, make_engine
from tests.databases import database_url


@pytest.fixture
def empty_engine(engine_kind: str, tmp_path: Path) -> Iterator[Engine]:
    with database_url(engine_kind, tmp_path) as url:
        fresh = make_engine(url)
        yield fresh
        fresh.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_empty_to_head_then_one_step_down_and_back(empty_engine: Engine) -> None:
    assert _tables(empty_engine) == set()
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert _tables(empty_engine) == set(Base.metadata.tables)

    head = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("head")
    assert head is not None
    migrate.downgrade(empty_engine, "-1")
    assert migrate.current_revision(empty_engine) == head.down_revision
    if head.down_revision is None:
        assert _tables(empty_engine) == set()

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_models_and_migrations_agree(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "a model changed without a migration"


def test_revisions_are_date_slugged() -> None:
    versions = Path(migrate.__file__).parent / "migrations" / "versions"
    names = sorted(p.name for p in versions.glob("*.py"))
    assert names
    for name in names:
        stamp, _, slug = name.partition("_")
        assert len(stamp) == len("2026-11-22-0024"), name
        assert slug.endswith(".py"), name
        assert slug.removesuffix(".py").replace("_", "").isalnum(), name
