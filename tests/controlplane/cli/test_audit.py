"""`gatehouse audit-events list|export`: every page, JSONL and CSV that parse back."""

import csv
import io
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from controlplane.cli import client
from controlplane.cli.audit import EXPORT_COLUMNS
from controlplane.container import Container
from tests import factories
from tests.controlplane.cli.helpers import Cli, assert_one_line_error


@pytest.fixture
def trail(
    cli: Cli, session: Session, container: Container, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, object]]:
    """Two workspaces with a few events each, read by acme's owner; pages of two events."""
    acme = factories.tenant(session, container, "acme")
    beta = factories.workspace(session, "beta", owner=acme.owner)
    for _ in range(3):
        factories.token(session, container, acme.workspace, acme.owner, ["proxy:invoke"])
    factories.token(session, container, beta, acme.owner, ["proxy:invoke"])
    session.commit()
    cli.login("acme-owner")
    # Small pages, so that following next_cursor is what gets every event.
    monkeypatch.setattr(client, "PAGE_SIZE", 2)
    events: list[dict[str, object]] = json.loads(cli.ok("audit-events", "list", "--json").stdout)
    return events


def test_list_follows_every_page(cli: Cli, trail: list[dict[str, object]]) -> None:
    assert len(trail) == 5
    assert [event["action"] for event in trail] == ["token.create"] * 5
    assert len({event["id"] for event in trail}) == 5
    limited = json.loads(cli.ok("audit-events", "list", "--limit", "3", "--json").stdout)
    assert limited == trail[:3]
    table = cli.ok("audit-events", "list", "--action", "token.create")
    assert "token.create" in table.stdout
    assert str(trail[0]["target_id"]) in table.stdout


def test_export_jsonl(cli: Cli, trail: list[dict[str, object]]) -> None:
    result = cli.ok("audit-events", "export", "--format", "jsonl")
    lines = result.stdout.splitlines()
    exported = [json.loads(line) for line in lines]
    assert exported == trail
    assert list(exported[0]) == EXPORT_COLUMNS
    assert result.stderr == ""

    only_beta = [
        json.loads(line)
        for line in cli.ok("audit-events", "export", "--workspace", "beta").stdout.splitlines()
    ]
    assert len(only_beta) == 1
    assert {event["workspace_id"] for event in only_beta} != {trail[0]["workspace_id"]}


def test_export_csv(cli: Cli, trail: list[dict[str, object]]) -> None:
    result = cli.ok("audit-events", "export", "--format", "csv")
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames == EXPORT_COLUMNS
    rows = list(reader)
    assert [row["id"] for row in rows] == [event["id"] for event in trail]
    for row, event in zip(rows, trail, strict=True):
        assert json.loads(row["details"]) == event["details"]
        assert row["action"] == event["action"]
        assert row["ts"] == event["ts"]
        assert row["client_ip"] == (event["client_ip"] or "")


def test_export_time_window(cli: Cli, trail: list[dict[str, object]]) -> None:
    third = str(trail[2]["ts"])
    # The window is [since, until): an event at `since` is in, one at `until` is out.
    # Events written within one clock tick share a timestamp, so expect by time, not position.
    window = cli.ok("audit-events", "export", "--since", third).stdout.splitlines()
    assert [json.loads(line)["id"] for line in window] == [
        e["id"] for e in trail if str(e["ts"]) >= third
    ]
    before = cli.ok("audit-events", "export", "--until", third).stdout.splitlines()
    assert [json.loads(line)["id"] for line in before] == [
        e["id"] for e in trail if str(e["ts"]) < third
    ]
    assert window

    future = cli.ok("audit-events", "export", "--format", "csv", "--since", "2999-01-01T00:00:00")
    assert future.stdout.splitlines() == [",".join(EXPORT_COLUMNS)]

    bad = cli("audit-events", "export", "--since", "last tuesday")
    assert_one_line_error(bad, "--since takes an ISO 8601 time")


def test_export_to_a_file(cli: Cli, trail: list[dict[str, object]], tmp_path: Path) -> None:
    target = tmp_path / "trail.csv"
    result = cli.ok("audit-events", "export", "--format", "csv", "--output", str(target), "--json")
    assert json.loads(result.stdout) == {"output": str(target), "format": "csv", "events": 5}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with target.open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 5
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

    jsonl = tmp_path / "trail.jsonl"
    summary = cli.ok("audit-events", "export", "-o", str(jsonl))
    assert "wrote 5 events" in summary.stderr
    assert [json.loads(line) for line in jsonl.read_text().splitlines()] == trail


def test_failed_export_leaves_no_file(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # The request fails after the temporary file is made: it must be cleaned up.
    result = cli("audit-events", "export", "-o", str(out / "trail.jsonl"), token="gth_invalid")
    assert_one_line_error(result, "(unauthenticated)")
    assert list(out.iterdir()) == []
