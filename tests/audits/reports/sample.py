"""A finished run with one finding of every status, hostile text from the scanned tree, a
checklist and a trend: what every report format is tested against."""

from datetime import UTC, datetime, timedelta

from audits.lifecycle import CHECKLIST_PATH
from audits.model import (
    Attestation,
    Category,
    CheckKind,
    CheckResult,
    CheckStatus,
    FindingStatus,
    Report,
    ReportedFinding,
    ScanStats,
    Severity,
    Suppression,
    Tool,
    TrendPoint,
    fingerprint,
)

STARTED = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
HOSTILE_PATH = "<script>alert(1)</script>.py"
HOSTILE_MESSAGE = (
    "Shell call | built from `input()`\n<img src=x onerror=alert(2)> [click](http://x)"
)
JUSTIFICATION = "Fixture token | documented in `tests/README` <b>really</b>"
SUPPRESSION_EXPIRES = datetime(2026, 6, 30, tzinfo=UTC)


def reported(
    tool: Tool,
    rule: str,
    path: str,
    status: FindingStatus,
    severity: Severity,
    **extra: object,
) -> ReportedFinding:
    fields: dict[str, object] = {
        "fingerprint": fingerprint(tool, rule, path, f"{rule}:{path}"),
        "tool": tool,
        "rule": rule,
        "rule_name": rule,
        "category": Category.SECRET if tool is Tool.SECRETS else Category.CODE,
        "severity": severity,
        "path": path,
        "line": 7,
        "message": f"{rule} in {path}",
        "status": status,
        "first_seen_at": STARTED - timedelta(days=3),
    }
    fields.update(extra)
    return ReportedFinding.model_validate(fields)


def sample_findings() -> list[ReportedFinding]:
    suppression = Suppression(
        id="sup-1",
        rule="Secret Keyword",
        path_glob="tests/*",
        justification=JUSTIFICATION,
        approver="security-team",
        created_at=STARTED - timedelta(days=10),
        expires_at=SUPPRESSION_EXPIRES,
    )
    return [
        reported(
            Tool.BANDIT,
            "B602",
            HOSTILE_PATH,
            FindingStatus.NEW,
            Severity.HIGH,
            rule_name="subprocess_popen_with_shell_equals_true",
            message=HOSTILE_MESSAGE,
            confidence="HIGH",
            cwe=78,
            help_uri="https://bandit.readthedocs.io/en/1.9.4/plugins/b602_subprocess_popen_with_shell_equals_true.html",
        ),
        reported(
            Tool.SECRETS,
            "AWS Access Key",
            "deploy/settings.py",
            FindingStatus.OPEN,
            Severity.CRITICAL,
            cwe=798,
            preview="AKIA…WXYZ",
            confidence="verified",
        ),
        reported(
            Tool.SECRETS,
            "Secret Keyword",
            "tests/fixtures.py",
            FindingStatus.SUPPRESSED,
            Severity.MEDIUM,
            suppression=suppression,
        ),
        reported(Tool.BANDIT, "B303", "legacy/hashing.py", FindingStatus.FIXED, Severity.MEDIUM),
        reported(
            Tool.CHECKLIST,
            "T-TOKENS-01",
            CHECKLIST_PATH,
            FindingStatus.OPEN,
            Severity.HIGH,
            line=None,
            rule_name="Token lifetimes are capped",
            message="2 tokens outlive the maximum lifetime",
        ),
    ]


def sample_checks() -> list[CheckResult]:
    return [
        CheckResult(
            item_id="T-TOKENS-01",
            title="Token lifetimes are capped",
            severity=Severity.HIGH,
            kind=CheckKind.AUTOMATED,
            status=CheckStatus.FAIL,
            explanation="2 tokens outlive the maximum lifetime",
            threats=("T-TOKENS-01",),
        ),
        CheckResult(
            item_id="T-KEYS-02",
            title="Key rotation rehearsed",
            severity=Severity.MEDIUM,
            kind=CheckKind.MANUAL,
            status=CheckStatus.MANUAL,
            explanation="awaiting attestation",
        ),
        CheckResult(
            item_id="T-LOG-03",
            title="Access log reviewed",
            severity=Severity.LOW,
            kind=CheckKind.MANUAL,
            status=CheckStatus.PASS,
            explanation="attested",
            attestation=Attestation(
                item_id="T-LOG-03",
                attested_by="alice",
                attested_at=STARTED - timedelta(days=5),
                evidence="ticket SEC-12",
                expires_at=STARTED + timedelta(days=85),
            ),
        ),
    ]


def sample_trend() -> list[TrendPoint]:
    return [
        TrendPoint(
            run_id=f"run-{day}",
            started_at=STARTED - timedelta(days=2 - day),
            new=new,
            fixed=fixed,
            open=present,
            suppressed=1,
        )
        for day, (new, fixed, present) in enumerate(((4, 0, 4), (0, 1, 3), (1, 1, 3)))
    ]


def sample_report(**changes: object) -> Report:
    report = Report(
        run_id="run-2",
        target="example/repo",
        started_at=STARTED,
        finished_at=STARTED + timedelta(seconds=42),
        tool_versions={"gatehouse": "0.1.0", "detect-secrets": "1.5.0", "bandit": "1.9.4"},
        findings=sample_findings(),
        checks=sample_checks(),
        stats=ScanStats(files_seen=12, files_scanned=10, files_skipped={"binary": 2}, seconds=1.5),
        trend=sample_trend(),
    )
    return report.model_copy(update=changes)
