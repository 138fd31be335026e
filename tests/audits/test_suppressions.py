"""Suppressions: what each one names, when it stops counting, and which one wins."""

from datetime import UTC, datetime, timedelta

import pytest

from audits.model import Category, Finding, Severity, Suppression, Tool, fingerprint
from audits.suppressions import active, covering, matches

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _finding(rule: str = "B602", path: str = "app/runner.py") -> Finding:
    return Finding(
        fingerprint=fingerprint(Tool.BANDIT, rule, path, "code"),
        tool=Tool.BANDIT,
        rule=rule,
        rule_name="subprocess_popen_with_shell_equals_true",
        category=Category.CODE,
        severity=Severity.HIGH,
        path=path,
        line=3,
        message="subprocess call with shell=True identified",
    )


def _suppression(days: float = 30, **target: str | None) -> Suppression:
    return Suppression(
        justification="reviewed: the command is a constant",
        approver="security-team",
        created_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=days),
        **target,
    )


def test_a_fingerprint_names_exactly_one_finding() -> None:
    finding = _finding()

    assert matches(_suppression(fingerprint=finding.fingerprint), finding)
    assert not matches(_suppression(fingerprint=finding.fingerprint), _finding(path="other.py"))


@pytest.mark.parametrize(
    ("path_glob", "path", "expected"),
    [
        (None, "anywhere/at/all.py", True),
        ("app/*", "app/runner.py", True),
        ("app/*", "app/deep/runner.py", True),  # fnmatch: '*' crosses directories
        ("app/*", "lib/runner.py", False),
        ("*.py", "app/runner.py", True),
        ("./app/*", "app/runner.py", True),  # globs are normalised like paths
        ("App/*", "app/runner.py", False),  # case-sensitive on every platform
    ],
)
def test_a_rule_names_its_findings_under_an_optional_path_glob(
    path_glob: str | None, path: str, expected: bool
) -> None:
    suppression = _suppression(rule="B602", path_glob=path_glob)

    assert matches(suppression, _finding(path=path)) is expected
    assert not matches(suppression, _finding(rule="B105", path=path))


def test_every_named_criterion_must_match() -> None:
    finding = _finding()

    assert matches(_suppression(fingerprint=finding.fingerprint, rule="B602"), finding)
    assert not matches(_suppression(fingerprint=finding.fingerprint, rule="B105"), finding)


def test_a_bare_path_glob_names_nothing() -> None:
    assert not matches(_suppression(path_glob="*"), _finding())


def test_expired_suppressions_are_not_active() -> None:
    current, expired, ending_now = _suppression(1), _suppression(-1), _suppression(0)

    assert active([current, expired, ending_now], NOW) == [current]


def test_the_covering_suppression_is_the_unexpired_one_that_lasts_longest() -> None:
    finding = _finding()
    short = _suppression(10, rule="B602")
    long = _suppression(90, fingerprint=finding.fingerprint)
    expired = _suppression(-5, rule="B602")
    elsewhere = _suppression(365, rule="B602", path_glob="lib/*")

    assert covering(finding, [short, long, expired, elsewhere], NOW) is long
    assert covering(finding, [short, expired], NOW) is short
    assert covering(finding, [expired, elsewhere], NOW) is None
