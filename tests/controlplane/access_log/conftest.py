"""Access-log fixtures: records, and committed databases for flushers and real processes."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from controlplane import migrate
from controlplane.access_log import service
from controlplane.access_log.models import AccessLogEntry
from controlplane.access_log.reader import Entry
from controlplane.access_log.records import AccessRecord
from controlplane.db import make_engine, make_session_factory, transaction
from tests.databases import database_url

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def record(request_id: str, **fields: Any) -> AccessRecord:
    values: dict[str, Any] = {
        "ts": T0,
        "request_id": request_id,
        "method": "POST",
        "upstream": "openai",
        "path": "/v1/chat/completions",
        "decision": "allow",
    }
    values.update(fields)
    return AccessRecord(**values)


@dataclass
class Database:
    url: str
    engine: Engine
    factory: sessionmaker[Session]

    def rows(self) -> list[AccessLogEntry]:
        with self.factory() as session:
            return list(session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)))

    def count(self) -> int:
        with self.factory() as session:
            return int(session.scalar(select(func.count()).select_from(AccessLogEntry)) or 0)


@pytest.fixture
def database(engine_kind: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated database that real commits, threads and processes may use."""
    with database_url(engine_kind, tmp_path) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        yield Database(url, engine, make_session_factory(engine))
        engine.dispose()


def append(database: Database, records: Iterable[AccessRecord]) -> None:
    """Store records as the flusher would, each under an entry id of its own."""
    with transaction(database.factory) as session:
        service.append(session, [Entry(f"entry-{r.request_id}", r) for r in records])
