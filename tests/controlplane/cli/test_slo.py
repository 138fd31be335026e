"""`gatehouse slo report`: a real `gatehouse` process reading runs stored in a real database."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane import migrate
from controlplane.db import make_engine, make_session_factory, transaction
from controlplane.kit.clock import utcnow
from runtime.store.models import RuntimeRun
from tests.databases import database_url
from tests.e2e.harness import environment, run_cli


@dataclass
class Database:
    url: str
    factory: sessionmaker[Session]


@pytest.fixture
def database(engine_kind: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated database that a separate `gatehouse` process can read."""
    with database_url(engine_kind, tmp_path) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        yield Database(url, make_session_factory(engine))
        engine.dispose()


@pytest.fixture
def env(database: Database, tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path / "home", database.url)


def store(database: Database, runs: list[tuple[str, str, str | None, float | None, float]]) -> None:
    """Runs as the runtime records them: (provider, model, finish, overhead ms, hours ago)."""
    now = utcnow()
    with transaction(database.factory) as session:
        for n, (provider, model, finish, overhead, hours_ago) in enumerate(runs):
            session.add(
                RuntimeRun(
                    id=f"run_{n:04d}",
                    workspace_id="ws_1",
                    agent_id="ag_1",
                    token_accessor=None,
                    provider=provider,
                    model=model,
                    status="finished" if finish else "running",
                    finish_reason=finish,
                    error_code="provider_error" if finish == "error" else None,
                    started_at=now - timedelta(hours=hours_ago),
                    finished_at=now if finish else None,
                    ttft_ms=None if overhead is None else overhead + 80,
                    upstream_ttft_ms=80.0,
                    overhead_ms=overhead,
                    e2e_ms=500.0,
                    events=10,
                )
            )


def test_report_json_over_the_window(database: Database, env: dict[str, str]) -> None:
    store(
        database,
        [
            *[("local", "echo", "stop", 2.0, 1)] * 18,
            ("local", "echo", "stop", 40.0, 2),
            ("local", "echo", "error", None, 3),
            ("local", "echo", "cancelled", None, 3),
            ("openai", "gpt-4o", "tool_calls", 10.0, 5),
            ("openai", "gpt-4o", "stop", 30.0, 30),  # outside a 24h window
        ],
    )
    result = run_cli(env, "slo", "report", "--window", "24h", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["window"] == "24h"
    assert report["objectives"] == {"ttft_p95_ms": 25.0, "error_rate": 0.01}
    overall = report["overall"]
    assert (overall["runs"], overall["errors"], overall["cancelled"]) == (21, 1, 1)
    assert overall["measured"] == 20
    assert overall["attainment"] == 0.95
    assert overall["latency_burn_rate"] == 1.0
    assert overall["error_burn_rate"] == pytest.approx(1 / 21 / 0.01)
    assert (overall["latency_met"], overall["errors_met"], overall["status"]) == (
        True,
        False,
        "breached",
    )
    echo, gpt = report["scopes"]
    assert (echo["scope"], echo["runs"], echo["overhead_p95_ms"]) == ("local·echo", 20, 40.0)
    assert (gpt["scope"], gpt["runs"], gpt["status"]) == ("openai·gpt-4o", 1, "met")

    wider = json.loads(run_cli(env, "slo", "report", "--window", "2d", "--json").stdout)
    assert wider["overall"]["runs"] == 22


def test_report_table(database: Database, tmp_path: Path) -> None:
    store(database, [("local", "echo", "stop", 3.0, 0), ("anthropic", "claude", "stop", 90.0, 0)])
    # Wide enough that rich keeps every row on one line.
    env = environment(tmp_path / "home", database.url, COLUMNS="250")
    result = run_cli(env, "slo", "report", "--window", "30m")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Runtime SLOs, last 30m" in result.stdout
    assert "TTFT+ p95 (<= 25 ms)" in result.stdout
    assert "error rate (<= 1.00%)" in result.stdout
    overall = next(line for line in lines if "│ all " in line)
    claude = next(line for line in lines if "anthropic·claude" in line)
    echo = next(line for line in lines if "local·echo" in line)
    assert "50.00%" in overall  # attainment: one of the two runs is over 25 ms
    assert "breached" in overall
    assert "90.0 ms" in claude
    assert "breached" in claude
    assert "3.0 ms" in echo
    assert "met" in echo


def test_no_runs_in_the_window(database: Database, env: dict[str, str]) -> None:
    store(database, [("local", "echo", "stop", 3.0, 48)])
    result = run_cli(env, "slo", "report", "--window", "7h")
    assert (result.returncode, result.stdout) == (0, "no runtime runs in the last 7h\n")
    as_json = json.loads(run_cli(env, "slo", "report", "--json").stdout)
    assert (as_json["overall"]["runs"], as_json["scopes"]) == (0, [])


@pytest.mark.parametrize("window", ["0h", "24", "1y", "-3d", "h"])
def test_a_bad_window_is_a_usage_error(window: str, tmp_path: Path) -> None:
    result = run_cli(environment(tmp_path / "home", None), "slo", "report", "--window", window)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: --window takes a positive number with s, m, h, d or w (e.g. 30m, 24h, 7d), "
        f"got {window!r}"
    ]
