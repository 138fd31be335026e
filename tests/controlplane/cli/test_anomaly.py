"""`gatehouse anomaly`: offline scans of exported logs, generate and evaluate, and the alerts of
a live server listed and judged."""

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from controlplane.container import Container
from tests import factories
from tests.controlplane.anomaly.helpers import T0, record, stored_alert
from tests.controlplane.cli.helpers import Cli

OUTPUT_FIELDS = [
    "detector",
    "severity",
    "entity_type",
    "entity",
    "window_start",
    "window_end",
    "score",
    "evidence_count",
    "explanation",
]


def _guessing_log(path: Path) -> None:
    """25 failed authentications from one address, with three malformed lines among them."""
    lines = [
        record(
            T0 + timedelta(seconds=n),
            status=401,
            decision="deny",
            reason="unauthenticated:unknown",
            client_ip="198.51.100.7",
        ).to_json_line()
        for n in range(25)
    ]
    lines[3:3] = ["{not json", "[1, 2]"]
    lines.insert(10, json.dumps({"request_id": "no-ts", "status": 401}))
    path.write_text("\n".join(lines) + "\n")


def test_an_offline_scan_prints_one_object_per_alert_and_reports_bad_lines(
    offline_cli: Cli, tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    _guessing_log(log)

    result = offline_cli.ok("anomaly", "scan", "--input", str(log), "--format", "json")

    [alert] = json.loads(result.stdout)
    assert list(alert)[: len(OUTPUT_FIELDS)] == OUTPUT_FIELDS
    assert (alert["detector"], alert["entity_type"], alert["entity"]) == (
        "auth_failure_burst",
        "ip",
        "198.51.100.7",
    )
    assert alert["evidence_count"] == 25
    assert alert["window_start"].endswith("Z")
    assert "3 malformed line(s) skipped: 4 (" in result.stderr
    assert "11 (" in result.stderr
    assert "25 events scanned" in result.stderr
    table = offline_cli.ok("anomaly", "scan", "--input", str(log))
    assert "auth_failure_burst" in table.stdout
    failing = offline_cli("anomaly", "scan", "--input", str(log), "--fail-on", "medium")
    assert failing.exit_code == 1
    assert offline_cli("anomaly", "scan", "--input", str(log), "--fail-on", "high").exit_code == 0
    refused = offline_cli("anomaly", "scan", "--input", str(log), "--set", "nonsense=3")
    assert refused.exit_code == 1
    assert "unknown detection setting 'nonsense'" in refused.stderr


def test_generate_then_evaluate(offline_cli: Cli, tmp_path: Path) -> None:
    events, labels = tmp_path / "labelled.jsonl", tmp_path / "labels.json"
    offline_cli.ok("anomaly", "generate", "-o", str(events), "--labels", str(labels), "--days", "5")
    assert json.loads(labels.read_text())["attacks"]

    result = offline_cli.ok(
        "anomaly", "evaluate", "--input", str(events), "--labels", str(labels), "--json"
    )

    report = json.loads(result.stdout)
    assert report["overall"]["recall"] >= 0.9
    assert report["overall"]["precision"] >= 0.8


def test_alerts_are_listed_shown_and_judged(
    cli: Cli, session: Session, container: Container
) -> None:
    acme = factories.tenant(session, container, "acme")
    alert = stored_alert(session, workspace_id=acme.workspace.id, detector="exfiltration")
    session.commit()
    cli.login("acme-owner")

    listed = json.loads(cli.ok("anomaly", "alerts", "list", "--json").stdout)
    assert [item["id"] for item in listed] == [alert.id]
    assert alert.id in cli.ok("anomaly", "alerts", "list", "--severity", "high").stdout
    shown = cli.ok("anomaly", "alerts", "show", alert.id)
    assert "203.0.113.9" in shown.stdout  # the evidence table
    cli.ok("anomaly", "alerts", "ack", alert.id, "--note", "on it")
    judged = json.loads(
        cli.ok(
            "anomaly", "alerts", "false-positive", alert.id, "--suppress-for", "2h", "--json"
        ).stdout
    )
    assert judged["status"] == "false_positive"
    resolved = cli("anomaly", "alerts", "resolve", alert.id)
    assert resolved.exit_code == 1
    assert "cannot become resolved" in resolved.stderr
