"""The audit run's summary for people: counts by severity and status, the worst findings, the
checklist, and what the scan did. Findings are shown by their redacted preview only."""

from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from audits.model import CheckStatus, FindingStatus, Report, ReportedFinding, Severity

SHOWN_FINDINGS = 25
_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_CHECK_STYLE = {
    CheckStatus.PASS: "green",
    CheckStatus.FAIL: "bold red",
    CheckStatus.ERROR: "red",
    CheckStatus.MANUAL: "yellow",
    CheckStatus.NOT_APPLICABLE: "dim",
}
_STATUSES = list(FindingStatus)


def print_summary(report: Report, console: Console) -> None:
    console.print(_counts(report))
    present = [f for f in report.findings if f.status is not FindingStatus.FIXED]
    if present:
        console.print(_worst(present))
    if report.checks:
        console.print(_checklist(report))
    stats = report.stats
    skipped = sum(stats.files_skipped.values())
    console.print(
        f"{report.target}: {stats.files_seen} files seen, {stats.files_scanned} scanned, "
        f"{stats.files_cached} unchanged (cached), {skipped} skipped"
        + (f", {stats.blobs} blobs in {stats.commits} commits" if stats.blobs else "")
        + (f", {len(stats.timed_out)} timed out" if stats.timed_out else "")
        + f" in {stats.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )


def _counts(report: Report) -> Table:
    counts = Counter((f.severity, f.status) for f in report.findings)
    table = Table(title=f"Audit {report.run_id}")
    table.add_column("severity")
    for status in _STATUSES:
        table.add_column(status.value, justify="right")
    for severity in reversed(list(Severity)):
        row = [str(counts[(severity, status)] or "") for status in _STATUSES]
        table.add_row(f"[{_STYLE[severity]}]{severity.value}[/]", *row)
    return table


def _worst(findings: list[ReportedFinding]) -> Table:
    table = Table(title=f"Findings (worst {min(len(findings), SHOWN_FINDINGS)} of {len(findings)})")
    for column in ("severity", "status", "rule", "where", "detail"):
        table.add_column(column, overflow="fold")
    for finding in sorted(findings, key=lambda f: f.sort_key())[:SHOWN_FINDINGS]:
        where = finding.path + (f":{finding.line}" if finding.line else "")
        detail = finding.preview or finding.message
        if finding.liveness:
            detail += f" ({finding.liveness})"
        table.add_row(
            f"[{_STYLE[finding.severity]}]{finding.severity.value}[/]",
            finding.status.value,
            escape(finding.rule),
            escape(where),
            escape(detail),
        )
    return table


def _checklist(report: Report) -> Table:
    table = Table(title="Checklist")
    for column in ("item", "severity", "result", "explanation"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        table.add_row(
            check.item_id,
            check.severity.value,
            f"[{_CHECK_STYLE[check.status]}]{check.status.value}[/]",
            escape(check.explanation),
        )
    return table
