"""The scheduled prune: removes what retention says, survives failures, shares the database."""

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.orm import Session

from controlplane.access_log import service
from controlplane.access_log.retention import RetentionJob
from controlplane.access_log.runtime import PRUNE_BATCH
from controlplane.access_log.service import Pruned
from controlplane.config import Settings
from controlplane.db import make_engine, make_session_factory, transaction
from controlplane.kit.clock import utcnow
from tests.controlplane.access_log.conftest import Database, append, record

RETENTION = timedelta(days=90)
DEADLINE_SECONDS = 30.0
SCHEDULER_THREAD = "APScheduler"


def _old_and_recent(database: Database) -> list[str]:
    """Five records well past retention, then three recent ones; returns the recent ids."""
    now = utcnow()
    old = [record(f"req-old-{i}", ts=now - timedelta(days=200, minutes=-i)) for i in range(5)]
    recent = [record(f"req-new-{i}", ts=now - timedelta(hours=1, minutes=-i)) for i in range(3)]
    append(database, [*old, *recent])
    return [r.request_id for r in recent]


def _kept(database: Database) -> list[str]:
    return [row.request_id for row in database.rows()]


def _intact(database: Database) -> None:
    with transaction(database.factory, read_only=True) as session:
        report = service.verify(session)
    assert report.intact, report.findings


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.01)


def _scheduler_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == SCHEDULER_THREAD]


def _settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, home=tmp_path, **overrides)


def test_a_run_prunes_old_records_keeps_recent_ones_and_the_chain_verifies(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="controlplane.access_log.retention")
    recent = _old_and_recent(database)
    job = RetentionJob(database.factory, older_than=RETENTION, interval_seconds=0)

    result = job.run()

    assert result is not None
    assert result.anchor.seq == 5
    assert _kept(database) == recent
    _intact(database)
    if database.engine.dialect.name == "postgresql":
        # The old records' month is past the cutoff: dropped whole, not deleted row by row.
        assert result.partitions
        assert result.rows == 0
    else:
        assert (result.rows, result.partitions) == (5, [])
    [outcome] = [r for r in caplog.records if r.name == "controlplane.access_log.retention"]
    assert outcome.levelno == logging.INFO
    assert "older than 90d" in outcome.getMessage()
    assert "chain now starts after seq 5" in outcome.getMessage()

    assert job.run() == Pruned(result.anchor), "a second run finds nothing left"
    append(database, [record("req-after-prune", ts=utcnow())])
    _intact(database)


def test_start_prunes_at_once_then_stop_ends_the_scheduler(database: Database) -> None:
    recent = _old_and_recent(database)
    job = RetentionJob(database.factory, older_than=RETENTION, interval_seconds=3_600)
    job.start()
    try:
        assert _scheduler_threads()
        # A process restarted more often than the interval must still prune.
        _wait_for(lambda: _kept(database) == recent, "the first run has pruned")
    finally:
        job.stop()
    assert not _scheduler_threads()
    _intact(database)


def test_a_failed_run_is_logged_and_the_next_run_still_happens(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    recent = _old_and_recent(database)
    if database.engine.dialect.name == "postgresql":
        unreachable_url = "postgresql+psycopg://postgres@127.0.0.1:1/gatehouse"  # nothing listens
    else:
        unreachable_url = "sqlite:////nonexistent-directory/gatehouse.db"
    unreachable = make_engine(unreachable_url)
    calls = 0

    def first_unreachable() -> Session:
        nonlocal calls
        calls += 1
        return make_session_factory(unreachable)() if calls == 1 else database.factory()

    job = RetentionJob(first_unreachable, older_than=RETENTION, interval_seconds=0.05)
    job.start()
    try:
        _wait_for(lambda: _kept(database) == recent, "a later run has pruned")
    finally:
        job.stop()
        unreachable.dispose()
    failures = [
        r
        for r in caplog.records
        if r.name == "controlplane.access_log.retention" and "prune failed" in r.getMessage()
    ]
    assert [r.levelno for r in failures] == [logging.WARNING]
    assert failures[0].exc_info is not None
    _intact(database)


def test_processes_pruning_at_once_take_turns_on_the_anchor(database: Database) -> None:
    """Another process's prune waits for the anchor lock, then finds the anchor moved."""
    recent = _old_and_recent(database)
    other_process = make_engine(database.url)  # its own pool, like another Gatehouse process
    job = RetentionJob(
        make_session_factory(other_process), older_than=RETENTION, interval_seconds=0
    )
    outcomes: list[Pruned | None] = []
    waiter = threading.Thread(target=lambda: outcomes.append(job.run()))
    try:
        with transaction(database.factory) as session:
            first = service.prune_step(session, utcnow() - RETENTION, PRUNE_BATCH)
            waiter.start()
            _wait_for(lambda: job.running, "the other prune has started")
            if database.engine.dialect.name == "postgresql":
                _wait_for(lambda: _waiting_on_a_lock(database), "the other prune waits")
            # SQLite: its BEGIN IMMEDIATE waits behind ours (busy_timeout), unobservably.
            assert job.run() is None, "a run while another is going is skipped, not queued"
        waiter.join(timeout=DEADLINE_SECONDS)
        assert not waiter.is_alive()
    finally:
        other_process.dispose()
    assert first.anchor.seq == 5
    assert outcomes == [Pruned(first.anchor)]
    assert _kept(database) == recent
    _intact(database)


def _waiting_on_a_lock(database: Database) -> bool:
    with database.engine.connect() as connection:
        waiting = connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%access_log_chain%'"
            )
        )
    return bool(waiting)


def test_interval_zero_schedules_nothing(database: Database, tmp_path: Path) -> None:
    _old_and_recent(database)
    job = RetentionJob.from_settings(
        _settings(tmp_path, access_log_prune_interval_seconds=0), database.factory
    )
    assert not job.enabled
    job.start()
    assert not _scheduler_threads()
    job.stop()
    assert len(_kept(database)) == 8


def test_the_interval_setting(tmp_path: Path) -> None:
    assert _settings(tmp_path).access_log_prune_interval_seconds == 3_600
    minute = _settings(tmp_path, access_log_prune_interval_seconds=60)
    assert minute.access_log_prune_interval_seconds == 60
    with pytest.raises(ValidationError, match="0 \\(off\\) or at least 60"):
        _settings(tmp_path, access_log_prune_interval_seconds=30)
    with pytest.raises(ValidationError):
        _settings(tmp_path, access_log_prune_interval_seconds=-1)
