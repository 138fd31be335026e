"""Every format, end to end from a real bandit scan: chosen by name, and never holding a secret."""

import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audits.lifecycle import classify
from audits.model import Report
from audits.reports import ReportFormat, render
from audits.static import scan_python
from audits.trends import TrendRow, trend

NOW = datetime(2026, 3, 2, 2, tzinfo=UTC)


def _report_of(root: Path, files: list[Path]) -> Report:
    findings, stats = scan_python(root, files)
    reported = classify(findings, [], [], first_seen={}, now=NOW)
    rows = [
        TrendRow("run-1", NOW, f.fingerprint, f.status, f.severity, f.category) for f in reported
    ]
    return Report(
        run_id="run-1",
        target=root.name,
        started_at=NOW,
        finished_at=NOW,
        tool_versions={"bandit": "1.9.4"},
        findings=reported,
        stats=stats,
        trend=trend(rows),
    )


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_no_format_carries_the_value_bandit_flagged(tmp_path: Path, fmt: ReportFormat) -> None:
    value = "fake-" + secrets.token_hex(8)
    keyword = "pass" + "word"
    source = f'{keyword.upper()} = "{value}"\n\n\ndef login(user, {keyword}="{value}"):\n'
    (tmp_path / "settings.py").write_text(source + "    return user\n")
    report = _report_of(tmp_path, [Path("settings.py")])
    assert {f.rule for f in report.findings} == {"B105", "B107"}

    text = render(report, fmt)

    assert value not in text
    assert "B105" in text


def test_formats_are_chosen_by_their_names() -> None:
    assert [ReportFormat(name) for name in ("json", "markdown", "html", "sarif")] == list(
        ReportFormat
    )
    report = Report(run_id="r", target="t", started_at=NOW, finished_at=NOW)

    assert render(report, ReportFormat("html")).startswith("<!DOCTYPE html>")
    assert render(report, ReportFormat.MARKDOWN).startswith("# Security audit: t")
    assert '"version": "2.1.0"' in render(report, ReportFormat.SARIF)
    assert render(report, ReportFormat.JSON).startswith("{")
