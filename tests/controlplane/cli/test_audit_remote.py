"""The remote audit commands against a live server: upload, list, suppress, attest, report."""

import json
import stat
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from audits.checklist import load_checklist
from audits.model import Report, RunResult
from controlplane.cli import audit_remote
from controlplane.cli.client import connect
from controlplane.container import Container
from tests import factories
from tests.controlplane.audit_runs.helpers import code, result, secret
from tests.controlplane.cli.helpers import Cli, assert_one_line_error

SCOPES = ["audit:read", "audit:run"]

app = typer.Typer()
for name, command in {
    "runs": audit_remote.runs_list,
    "show": audit_remote.run_show,
    "findings": audit_remote.findings_list,
    "diff": audit_remote.diff,
    "suppress": audit_remote.suppress,
    "suppressions": audit_remote.suppressions_list,
    "unsuppress": audit_remote.unsuppress,
    "attest": audit_remote.attest,
    "checklist": audit_remote.checklist_show,
    "trends": audit_remote.trends,
    "report": audit_remote.report,
}.items():
    app.command(name)(command)


class AuditCli:
    def __init__(self, cli: Cli, token: str) -> None:
        self.cli, self.token = cli, token

    def env(self) -> Mapping[str, str | None]:
        return {
            "GATEHOUSE_URL": self.cli.url,
            "GATEHOUSE_HOME": str(self.cli.home),
            "GATEHOUSE_TOKEN": self.token,
            "GATEHOUSE_WORKSPACE": None,
            "COLUMNS": "250",
        }

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=dict(self.env()))

    def ok(self, *args: str) -> Result:
        outcome = self(*args)
        assert outcome.exit_code == 0, (outcome.stdout, outcome.stderr, outcome.exception)
        return outcome

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)


@pytest.fixture
def audit_cli(cli: Cli, session: Session, container: Container) -> AuditCli:
    tenant = factories.tenant(session, container, "clinic")
    _, raw = factories.token(session, container, tenant.workspace, tenant.owner, SCOPES)
    session.commit()
    return AuditCli(cli, raw)


def _upload(audit_cli: AuditCli, monkeypatch: pytest.MonkeyPatch, run: RunResult) -> Any:
    for key, value in audit_cli.env().items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    with connect() as api:
        return audit_remote.upload(api, "clinic", run)


def test_runs_findings_and_diff(audit_cli: AuditCli, monkeypatch: pytest.MonkeyPatch) -> None:
    key, shell = secret("app/settings.py", 4), code("app/run.py", 9)
    first = _upload(audit_cli, monkeypatch, result(key, shell))
    second = _upload(audit_cli, monkeypatch, result(key))
    assert first["id"].startswith("aud_")

    runs = audit_cli.json("runs")
    assert [run["id"] for run in runs] == [second["id"], first["id"]]
    table = audit_cli.ok("runs").stdout
    assert first["id"] in table
    assert second["id"] in table
    shown = audit_cli.json("show", first["id"])
    assert shown["counts"]["status"] == {"new": 2}
    assert "by severity" in audit_cli.ok("show", first["id"]).stdout

    current = audit_cli.json("findings")
    assert {f["fingerprint"]: f["status"] for f in current} == {
        key.fingerprint: "open",
        shell.fingerprint: "fixed",
    }
    assert [f["fingerprint"] for f in audit_cli.json("findings", "--status", "fixed")] == [
        shell.fingerprint
    ]
    as_first_saw = audit_cli.json("findings", "--run", first["id"])
    assert {f["status"] for f in as_first_saw} == {"new"}
    assert key.preview is not None
    assert key.preview in audit_cli.ok("findings").stdout

    changes = audit_cli.json("diff", second["id"])
    assert changes["against"] == first["id"]
    assert [f["fingerprint"] for f in changes["resolved"]] == [shell.fingerprint]
    summary = audit_cli.ok("diff", second["id"])
    assert "0 introduced, 1 resolved, 1 unchanged" in summary.stderr
    assert "resolved" in summary.stdout

    points = audit_cli.json("trends")
    assert [(p["run_id"], p["fixed"]) for p in points] == [(first["id"], 0), (second["id"], 1)]


def test_suppress_and_unsuppress(audit_cli: AuditCli, monkeypatch: pytest.MonkeyPatch) -> None:
    key = secret("app/settings.py", 4)
    _upload(audit_cli, monkeypatch, result(key))
    [finding] = audit_cli.json("findings")
    created = audit_cli.json(
        "suppress",
        finding["id"],
        "--justification",
        "rotated already; the file is history",
        "--expires",
        "30d",
        "--approver",
        "the security lead",
    )
    expires = datetime.fromisoformat(created["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert created["approver"] == "the security lead"
    assert [f["id"] for f in audit_cli.json("findings", "--status", "suppressed")] == [
        finding["id"]
    ]

    listed = audit_cli.ok("suppressions").stdout
    assert created["id"] in listed
    assert "active" in listed
    assert "revoked" in audit_cli.ok("unsuppress", created["id"]).stdout
    [kept] = audit_cli.json("suppressions")
    assert kept["revoked"] is True
    assert [f["status"] for f in audit_cli.json("findings")] == ["new"]

    refused = audit_cli("suppress", finding["id"], "--justification", "short", "--expires", "1d")
    assert_one_line_error(refused, "body.justification")


def test_attest_and_show_the_checklist(audit_cli: AuditCli) -> None:
    manual = next(item for item in load_checklist() if item.manual is not None)
    until = (datetime.now(UTC) + timedelta(days=45)).date().isoformat()
    attested = audit_cli.json(
        "attest", manual.id, "--evidence", "drill ticket OPS-7", "--expires", until
    )
    assert attested["expires_at"].startswith(until)
    entries = {entry["id"]: entry for entry in audit_cli.json("checklist")}
    assert entries[manual.id]["attestation"]["id"] == attested["id"]
    table = audit_cli.ok("checklist").stdout
    assert manual.id in table
    assert "not run" in table


def test_report_to_a_file_and_to_stdout(
    audit_cli: AuditCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = _upload(audit_cli, monkeypatch, result(secret("app/settings.py", 4)))
    target = tmp_path / "audit.sarif"
    audit_cli.ok("report", run["id"], "--format", "sarif", "--output", str(target))
    sarif = json.loads(target.read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["audit.sarif"]

    as_json = audit_cli.ok("report", run["id"], "--format", "json").stdout
    assert Report.model_validate_json(as_json).run_id == run["id"]
    assert "app/settings.py" in audit_cli.ok("report", run["id"]).stdout  # Markdown

    missing = audit_cli("report", "aud_missing", "--format", "html")
    assert_one_line_error(missing, "audit run not found")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2027-01-31", datetime(2027, 1, 31, tzinfo=UTC)),
        ("2027-01-31T12:30:00+02:00", datetime(2027, 1, 31, 10, 30, tzinfo=UTC)),
        ("12h", datetime(2026, 11, 22, 12, tzinfo=UTC)),
        ("2w", datetime(2026, 12, 6, tzinfo=UTC)),
    ],
)
def test_expiry_is_a_date_a_time_or_a_duration(given: str, expected: datetime) -> None:
    assert audit_remote.parse_expiry(given, datetime(2026, 11, 22, tzinfo=UTC)) == expected


def test_an_unreadable_expiry_is_refused(offline_cli: Cli) -> None:
    outcome = CliRunner().invoke(
        app,
        ["suppress", "afd_x", "--justification", "long enough reason", "--expires", "soon"],
        env={"GATEHOUSE_URL": offline_cli.url, "GATEHOUSE_TOKEN": "unused"},
    )
    assert_one_line_error(outcome, "--expires")
