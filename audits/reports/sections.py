"""What the human-readable reports (Markdown and HTML) show, in the order they show it.

Both formats render the same sections from these helpers, so they never disagree on which
findings are open, how they are ordered or what a count means.
"""

from audits.model import (
    CheckResult,
    FindingStatus,
    Report,
    ReportedFinding,
    ScanStats,
    Severity,
    TrendPoint,
)

# The order statuses are counted and listed in: what needs work first.
STATUS_ORDER = (
    FindingStatus.NEW,
    FindingStatus.OPEN,
    FindingStatus.SUPPRESSED,
    FindingStatus.FIXED,
)
SEVERITY_ORDER = tuple(reversed(Severity))
TREND_HEADERS = ("Run", "Started", "Open", "New", "Fixed", "Suppressed")


def with_status(report: Report, *statuses: FindingStatus) -> list[ReportedFinding]:
    """The report's findings in these statuses, most severe first."""
    chosen = [finding for finding in report.findings if finding.status in statuses]
    return sorted(chosen, key=ReportedFinding.sort_key)


def counts(report: Report) -> dict[Severity, dict[FindingStatus, int]]:
    """Findings by severity (most severe first) and status, every cell present."""
    table = {severity: dict.fromkeys(STATUS_ORDER, 0) for severity in SEVERITY_ORDER}
    for finding in report.findings:
        table[finding.severity][finding.status] += 1
    return table


def location(finding: ReportedFinding) -> str:
    if finding.line is None:
        return finding.path
    return f"{finding.path}:{finding.line}"


def detail(finding: ReportedFinding) -> str:
    """The message, with the redacted preview and token liveness when the finding has them."""
    text = finding.message
    if finding.preview:
        text += f" [{finding.preview}]"
    if finding.liveness:
        text += f" (token {finding.liveness})"
    return text


def stats_rows(report: Report) -> list[tuple[str, str]]:
    """Run statistics as (label, value) pairs; tool versions included."""
    stats: ScanStats = report.stats
    skipped = ", ".join(f"{reason}: {n}" for reason, n in sorted(stats.files_skipped.items()))
    rows = [
        ("Started", report.started_at.isoformat()),
        ("Finished", report.finished_at.isoformat()),
        ("Files seen", str(stats.files_seen)),
        ("Files scanned", str(stats.files_scanned)),
        ("Files unchanged (cached)", str(stats.files_cached)),
        ("Files skipped", skipped or "none"),
        ("Blobs (history)", str(stats.blobs)),
        ("Commits (history)", str(stats.commits)),
        ("Files timed out", ", ".join(stats.timed_out) or "none"),
        ("Seconds", f"{stats.seconds:.2f}"),
    ]
    rows += [(f"{tool} version", ver) for tool, ver in sorted(report.tool_versions.items())]
    return rows


def attestation(check: CheckResult) -> str:
    attested = check.attestation
    if attested is None:
        return ""
    return (
        f"{attested.attested_by} on {attested.attested_at.date().isoformat()}, until "
        f"{attested.expires_at.date().isoformat()}: {attested.evidence}"
    )


def trend_rows(points: list[TrendPoint]) -> list[tuple[str, ...]]:
    """One row per run, in TREND_HEADERS order; `open` counts new ones too, as in the chart."""
    return [
        (
            point.run_id,
            point.started_at.isoformat(timespec="minutes"),
            str(point.open),
            str(point.new),
            str(point.fixed),
            str(point.suppressed),
        )
        for point in points
    ]
