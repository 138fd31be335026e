"""The lifecycle across a sequence of runs of one target, fed by real bandit scans."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from audits.lifecycle import CHECKLIST_PATH, checks_as_findings, classify, diff
from audits.model import (
    Attestation,
    Category,
    CheckKind,
    CheckResult,
    CheckStatus,
    Finding,
    FindingStatus,
    ReportedFinding,
    Severity,
    Suppression,
    Tool,
    fingerprint,
)
from audits.static import scan_python

START = datetime(2026, 1, 5, 2, tzinfo=UTC)
SHELL_CALL = "import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n"
CLEAN = "def run(cmd):\n    return cmd\n"


@dataclass
class Target:
    """What the control plane keeps between runs of one target, reduced to the essentials."""

    root: Path
    previous: list[ReportedFinding] = field(default_factory=list)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    runs: int = 0

    def run(self, source: str, suppressions: list[Suppression] | None = None) -> dict[str, str]:
        """One nightly run; answers rule -> status, e.g. {"B602": "new"}."""
        (self.root / "runner.py").write_text(source)
        findings, _ = scan_python(self.root, [Path("runner.py")])
        now = self.now()
        reported = classify(
            findings, self.previous, suppressions or [], first_seen=self.first_seen, now=now
        )
        for finding in reported:
            if finding.status is not FindingStatus.FIXED:
                self.first_seen.setdefault(finding.fingerprint, now)
        self.previous = [f for f in reported if f.status is not FindingStatus.FIXED]
        self.runs += 1
        self.last = reported
        return {finding.rule: finding.status.value for finding in reported}

    def now(self) -> datetime:
        return START + timedelta(days=self.runs)

    def one(self, rule: str) -> ReportedFinding:
        [finding] = [f for f in self.last if f.rule == rule]
        return finding


def _suppression(expires_at: datetime, **target: str) -> Suppression:
    return Suppression(
        id="sup-1",
        justification="the command is a constant string",
        approver="security-team",
        created_at=START,
        expires_at=expires_at,
        **target,
    )


def test_new_then_open_then_fixed_then_reopened(tmp_path: Path) -> None:
    target = Target(tmp_path)

    assert target.run(SHELL_CALL) == {"B404": "new", "B602": "new"}
    first = target.one("B602")
    assert first.first_seen_at == START

    assert target.run(SHELL_CALL) == {"B404": "open", "B602": "open"}
    assert target.one("B602").first_seen_at == START

    assert target.run(CLEAN) == {"B404": "fixed", "B602": "fixed"}
    fixed = target.one("B602")
    assert fixed.fingerprint == first.fingerprint
    assert fixed.first_seen_at == START

    # A fixed finding is reported once: the next clean run no longer mentions it.
    assert target.run(CLEAN) == {}

    # It comes back: reopened, not new, and it keeps its history.
    assert target.run(SHELL_CALL) == {"B404": "open", "B602": "open"}
    assert target.one("B602").first_seen_at == START


def test_moving_the_flagged_line_keeps_the_finding_open(tmp_path: Path) -> None:
    target = Target(tmp_path)
    target.run(SHELL_CALL)

    statuses = target.run('"""A module docstring."""\n\n' + SHELL_CALL)

    assert statuses == {"B404": "open", "B602": "open"}


def test_a_suppression_holds_until_it_expires_and_then_the_finding_reopens(
    tmp_path: Path,
) -> None:
    target = Target(tmp_path)
    target.run(SHELL_CALL)
    suppression = _suppression(START + timedelta(days=2, hours=12), rule="B602")

    assert target.run(SHELL_CALL, [suppression])["B602"] == "suppressed"
    assert target.one("B602").suppression == suppression
    assert target.run(SHELL_CALL, [suppression])["B602"] == "suppressed"

    # Expired at the third run: open again, the stale acceptance no longer attached.
    assert target.run(SHELL_CALL, [suppression])["B602"] == "open"
    assert target.one("B602").suppression is None


def test_an_expired_suppression_leaves_a_first_sighting_new(tmp_path: Path) -> None:
    target = Target(tmp_path)
    expired = _suppression(START - timedelta(days=1), rule="B602")

    assert target.run(SHELL_CALL, [expired])["B602"] == "new"


def test_a_fingerprint_reported_twice_is_reported_once() -> None:
    finding = _checklist_finding("T-1")

    reported = classify([finding, finding], [], [], first_seen={}, now=START)

    assert [f.fingerprint for f in reported] == [finding.fingerprint]


def test_fixed_entries_handed_back_as_previous_are_ignored() -> None:
    gone = _checklist_finding("T-1")
    [fixed] = classify([], [gone], [], first_seen={}, now=START)
    assert fixed.status is FindingStatus.FIXED

    assert classify([], [fixed], [], first_seen={}, now=START) == []


def _check(item_id: str, status: CheckStatus, severity: Severity = Severity.HIGH) -> CheckResult:
    return CheckResult(
        item_id=item_id,
        title=f"Check {item_id}",
        severity=severity,
        kind=CheckKind.MANUAL if status is CheckStatus.MANUAL else CheckKind.AUTOMATED,
        status=status,
        explanation=f"explanation of {item_id}",
    )


def _checklist_finding(item_id: str) -> Finding:
    [finding] = checks_as_findings([_check(item_id, CheckStatus.FAIL)])
    return finding


def test_failed_and_errored_checks_become_findings_and_the_rest_do_not() -> None:
    attested = _check("T-PASS", CheckStatus.PASS).model_copy(
        update={
            "attestation": Attestation(
                item_id="T-PASS",
                attested_by="alice",
                attested_at=START,
                evidence="reviewed",
                expires_at=START + timedelta(days=90),
            )
        }
    )
    checks = [
        _check("T-FAIL", CheckStatus.FAIL, Severity.CRITICAL),
        _check("T-ERROR", CheckStatus.ERROR, Severity.CRITICAL),
        _check("T-MANUAL", CheckStatus.MANUAL),
        _check("T-NA", CheckStatus.NOT_APPLICABLE),
        attested,
    ]

    failed, errored = checks_as_findings(checks)

    assert failed.rule == "T-FAIL"
    assert failed.severity is Severity.CRITICAL
    assert failed.message == "explanation of T-FAIL"
    assert errored.rule == "T-ERROR"
    assert errored.severity is Severity.LOW
    assert "could not run" in errored.message
    for finding, item_id in ((failed, "T-FAIL"), (errored, "T-ERROR")):
        assert finding.tool is Tool.CHECKLIST
        assert finding.category is Category.CONFIGURATION
        assert finding.path == CHECKLIST_PATH
        assert finding.rule_name == f"Check {item_id}"
        assert finding.fingerprint == fingerprint(Tool.CHECKLIST, item_id, CHECKLIST_PATH, item_id)


def test_checklist_findings_are_suppressed_like_any_other() -> None:
    finding = _checklist_finding("T-TOKENS-01")
    accepted = _suppression(START + timedelta(days=30), rule="T-TOKENS-01")

    [reported] = classify([finding], [], [accepted], first_seen={}, now=START)

    assert reported.status is FindingStatus.SUPPRESSED


def test_diff_between_two_runs_by_fingerprint() -> None:
    kept, gone, came, accepted = (_checklist_finding(item) for item in ("K", "G", "C", "A"))
    suppression = _suppression(START + timedelta(days=30), rule="A")
    older = classify([kept, gone, accepted], [], [], first_seen={}, now=START)
    later = START + timedelta(days=1)
    newer = classify([kept, came, accepted], older, [suppression], first_seen={}, now=later)

    changes = diff(older, newer)

    assert [f.rule for f in changes.introduced] == ["C"]
    assert [f.rule for f in changes.resolved] == ["G"]
    assert changes.resolved[0].status is FindingStatus.NEW  # as the older run reported it
    assert sorted(f.rule for f in changes.unchanged) == ["A", "K"]
    assert {f.rule: f.status for f in changes.unchanged}["A"] is FindingStatus.SUPPRESSED
    assert diff(newer, newer).introduced == []
    assert diff(newer, newer).resolved == []
