"""`gatehouse access-log export|verify|prune`: real processes on the database, like an operator."""

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from controlplane.access_log.models import AccessLogEntry
from controlplane.access_log.records import FIELD_NAMES
from controlplane.kit.clock import utcnow
from tests.controlplane.access_log.conftest import T0, Database, append, record
from tests.e2e.harness import environment, run_cli


@pytest.fixture
def env(database: Database, tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path / "home", database.url)


def test_export_jsonl_has_exactly_the_record_fields(
    database: Database, env: dict[str, str]
) -> None:
    records = [
        record(f"req-{i:08d}", ts=T0 + timedelta(hours=i), status=200, tokens_in=i, streamed=True)
        for i in range(5)
    ]
    append(database, records)
    result = run_cli(
        env,
        "access-log",
        "export",
        "--since",
        (T0 + timedelta(hours=1)).isoformat(),
        "--until",
        "2026-11-22T14:00:00",  # no offset: UTC
        "--format",
        "jsonl",
    )
    assert result.returncode == 0, result.stderr
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(item) for item in exported] == [list(FIELD_NAMES)] * 3
    assert exported == [r.to_dict() for r in records[1:4]]


def test_export_csv_to_a_private_file(
    database: Database, env: dict[str, str], tmp_path: Path
) -> None:
    append(database, [record("req-00000001", status=200, ttfb_ms=None, streamed=False)])
    target = tmp_path / "log.csv"
    result = run_cli(env, "access-log", "export", "--format", "csv", "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert "wrote 1 records" in result.stderr
    assert target.stat().st_mode & 0o777 == 0o600
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == list(FIELD_NAMES)
    exported = dict(zip(rows[0], rows[1], strict=True))
    assert (exported["request_id"], exported["streamed"], exported["ttfb_ms"]) == (
        "req-00000001",
        "false",
        "",
    )


def test_verify_exits_1_naming_the_tampered_row(database: Database, env: dict[str, str]) -> None:
    append(database, [record(f"req-{i:08d}", ts=T0 + timedelta(minutes=i)) for i in range(5)])
    intact = run_cli(env, "access-log", "verify")
    assert intact.returncode == 0, intact.stderr
    assert intact.stdout.startswith("intact: 5 records, seq 1-5, head hash ")

    with database.engine.begin() as connection:
        connection.execute(
            update(AccessLogEntry).where(AccessLogEntry.seq == 3).values(bytes_out=1)
        )
    broken = run_cli(env, "access-log", "verify")
    assert broken.returncode == 1
    assert broken.stdout.splitlines() == ["seq 3: contents do not match its hash (modified row)"]
    assert "Traceback" not in broken.stderr


def test_prune_keeps_verify_passing(database: Database, env: dict[str, str]) -> None:
    now = utcnow()
    append(
        database,
        [
            record("req-old-0001", ts=now - timedelta(days=200)),
            record("req-old-0002", ts=now - timedelta(days=120)),
            record("req-new-0003", ts=now - timedelta(days=1)),
        ],
    )
    pruned = run_cli(env, "access-log", "prune", "--older-than", "90d", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["anchor"]["seq"] == 2
    assert [row.request_id for row in database.rows()] == ["req-new-0003"]
    verified = run_cli(env, "access-log", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert (report["intact"], report["checked"], report["anchor"]["seq"]) == (True, 1, 2)


def test_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    bad_time = run_cli(environment(tmp_path / "home", None), "access-log", "export", "--since", "x")
    assert bad_time.returncode == 1
    assert bad_time.stderr.startswith("error: --since takes an ISO 8601 time")
    unmigrated = run_cli(environment(tmp_path / "fresh-home", None), "access-log", "verify")
    assert unmigrated.returncode == 1
    assert len(unmigrated.stderr.splitlines()) == 1
    assert "gatehouse db upgrade" in unmigrated.stderr
