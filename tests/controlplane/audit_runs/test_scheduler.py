"""The scheduled audit: each slot runs once between control planes sharing one database."""

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from pydantic import ValidationError
from sqlalchemy import select

from audits.checklist import load_checklist
from audits.model import FindingStatus
from controlplane.audit_events.models import AuditEvent
from controlplane.audit_runs import service
from controlplane.audit_runs.models import (
    AuditAttestation,
    AuditCheckResult,
    AuditRun,
    AuditRunFinding,
)
from controlplane.audit_runs.scheduler import JOB, AuditSchedule
from controlplane.container import Container
from controlplane.context import Ctx
from controlplane.db import make_engine, transaction
from controlplane.kit.clock import utcnow
from controlplane.kit.ids import new_id
from controlplane.scheduling.claims import latest_fire_time
from controlplane.scheduling.models import JobClaim
from tests import factories
from tests.conftest import test_settings as settings_for
from tests.controlplane.audit_runs.helpers import result, secret

NIGHT = datetime(2026, 11, 23, 3, 0, 2, tzinfo=UTC)


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def planes(committed_container: Container, tmp_path: Path) -> Iterator[tuple[Container, Container]]:
    """Two control planes on one committed database, each with its own engine and pool."""
    url = committed_container.engine.url.render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        other = Container.build(settings_for(tmp_path / "other-home"), engine=engine)
        yield committed_container, other
    finally:
        engine.dispose()


def _rows(container: Container, model: Any) -> list[Any]:
    with transaction(container.session_factory, read_only=True) as session:
        return list(session.scalars(select(model)).all())


def _together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls on threads released at the same instant; their results in order."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def go(index: int) -> None:
        start.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def test_a_slot_runs_once_between_two_control_planes(planes: tuple[Container, Container]) -> None:
    first, second = planes
    with transaction(first.session_factory) as session:
        workspace = factories.workspace(session, "nightly").id
    schedules = AuditSchedule(first), AuditSchedule(second)

    outcomes = _together(*(lambda s=s: s.run(NIGHT) for s in schedules))

    stored = [outcome for outcome in outcomes if outcome is not None]
    assert len(stored) == 1, outcomes
    [claim] = _rows(first, JobClaim)
    assert (claim.job, claim.slot) == (JOB, datetime(2026, 11, 23, 3, 0, tzinfo=UTC))
    assert claim.outcome == stored[0]
    assert claim.finished_at is not None
    [run] = _rows(first, AuditRun)
    assert (run.id, run.workspace_id, run.source, run.target) == (
        stored[0],
        workspace,
        "schedule",
        "control-plane",
    )
    assert sum(run.counts["checks"].values()) > 0
    [event] = [e for e in _rows(first, AuditEvent) if e.action == "audit.run.store"]
    assert (event.actor_type, event.actor_id) == ("system", "audit scheduler")

    # Later the same night (a late or restarted process): the slot is taken.
    assert schedules[1].run(NIGHT.replace(hour=9)) is None
    # The next night is a new slot.
    assert schedules[1].run(NIGHT.replace(day=24)) is not None
    assert len(_rows(first, AuditRun)) == 2


def test_a_failed_slot_is_recorded_and_the_next_one_runs(
    container: Container,
) -> None:
    schedule = AuditSchedule(container)
    assert schedule.run(NIGHT) is None  # no workspace exists yet
    [claim] = _rows(container, JobClaim)
    assert claim.outcome == "failed: NoWorkspace"
    with transaction(container.session_factory) as session:
        factories.workspace(session, "late")
    assert schedule.run(NIGHT.replace(day=24)) is not None


def test_the_configured_workspace_and_its_attestations_are_used(
    container: Container,
) -> None:
    manual = next(item for item in load_checklist() if item.manual is not None)
    with transaction(container.session_factory) as session:
        names = {factories.workspace(session, name).id: name for name in ("first", "security")}
        # The newer of the two (ids sort by creation time; two made within one millisecond
        # sort by their random tail): the default, the oldest, is then the other one.
        chosen = max(names)
        session.add(
            AuditAttestation(
                id=new_id("att"),
                workspace_id=chosen,
                item_id=manual.id,
                attested_by="usr_lead",
                attested_at=utcnow() - timedelta(days=1),
                evidence="restore drill, ticket OPS-9",
                expires_at=utcnow() + timedelta(days=30),
            )
        )
    named = container.rebind(container.session_factory, audit_workspace=names[chosen])
    with transaction(container.session_factory, read_only=True) as session:
        assert service.scheduled_attestations(Ctx(session, container)) == []
        [attestation] = service.scheduled_attestations(Ctx(session, named))
    assert attestation.item_id == manual.id

    run_id = AuditSchedule(named).run(NIGHT)
    [run] = _rows(container, AuditRun)
    assert (run.id, run.workspace_id) == (run_id, chosen)
    results = {row.item_id: row.status for row in _rows(container, AuditCheckResult)}
    assert results[manual.id] == "pass"


def test_an_empty_schedule_runs_nothing(container: Container) -> None:
    off = container.rebind(container.session_factory, audit_schedule="")
    schedule = AuditSchedule(off)
    assert not schedule.enabled
    assert schedule.run(NIGHT) is None
    schedule.start()  # schedules nothing, starts no thread
    schedule.stop()
    assert _rows(container, JobClaim) == []


def test_concurrent_runs_of_one_target_are_classified_in_turn(
    planes: tuple[Container, Container],
) -> None:
    """Without the per-target lock, both would see no finding and race to insert it."""
    first, second = planes
    with transaction(first.session_factory) as session:
        workspace = factories.workspace(session, "busy").id
    found = secret("app/key.py", 1)

    def store(container: Container) -> str:
        with transaction(container.session_factory) as session:
            return service.store_scheduled(Ctx(session, container), workspace, result(found)).id

    _together(lambda: store(first), lambda: store(second))
    sightings = _rows(first, AuditRunFinding)
    assert sorted(s.status for s in sightings) == [FindingStatus.NEW, FindingStatus.OPEN]


@pytest.mark.parametrize(
    ("crontab", "now", "slot"),
    [
        ("0 3 * * *", _utc(2026, 11, 23, 3, 0, 2), _utc(2026, 11, 23, 3, 0)),
        # Hours late (a suspended host): still that night's slot.
        ("0 3 * * *", _utc(2026, 11, 23, 11, 30), _utc(2026, 11, 23, 3, 0)),
        # Just before 03:00: the previous night's.
        ("0 3 * * *", _utc(2026, 11, 23, 2, 59, 59), _utc(2026, 11, 22, 3, 0)),
        ("*/5 * * * *", _utc(2026, 11, 23, 10, 7, 30), _utc(2026, 11, 23, 10, 5)),
        ("0 4 1 1 *", _utc(2026, 11, 23, 10, 0), _utc(2026, 1, 1, 4, 0)),
    ],
)
def test_the_slot_is_the_latest_scheduled_time(crontab: str, now: datetime, slot: datetime) -> None:
    trigger = CronTrigger.from_crontab(crontab, timezone=UTC)
    assert latest_fire_time(trigger, now) == slot


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"audit_schedule": "every night"}, "Wrong number of fields"),
        ({"audit_schedule": "0 25 * * *"}, "maximum value"),
        ({"audit_webhook_url": "https://hooks.example.test/a"}, "needs audit_webhook_secret"),
        (
            {"audit_webhook_url": "ftp://hooks.example.test/a", "audit_webhook_secret": "s"},
            "http:// or https://",
        ),
    ],
)
def test_settings_refuse_a_bad_schedule_and_an_unsigned_webhook(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings_for(tmp_path, **overrides)
    assert settings_for(tmp_path, audit_schedule="  ").audit_schedule == ""
