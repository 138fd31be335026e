"""The report as Markdown, for pull requests, tickets and terminals.

Every value that comes from the scanned tree (paths, messages, names) is untrusted: it is put on
one line and its Markdown and HTML punctuation is backslash-escaped, so it can neither break a
table nor become a link, an image or markup.
"""

from collections.abc import Sequence

from audits.model import CheckResult, FindingStatus, Report, ReportedFinding
from audits.reports import sections

# CommonMark lets any ASCII punctuation be backslash-escaped; these are the ones that matter in
# a table cell (pipes, code spans, emphasis, links, raw HTML and entities, GFM strikethrough).
_ESCAPES = str.maketrans({char: "\\" + char for char in "\\`*_[]<>&|~"})


def render_markdown(report: Report) -> str:
    parts = [
        f"# Security audit: {escape(report.target)}",
        f"Run {escape(report.run_id)}, started {report.started_at.isoformat()}.",
        "## Summary",
        _summary(report),
        "## Open findings",
        _open(sections.with_status(report, FindingStatus.NEW, FindingStatus.OPEN)),
        "## Suppressed findings",
        _suppressed(sections.with_status(report, FindingStatus.SUPPRESSED)),
        "## Fixed since the previous run",
        _fixed(sections.with_status(report, FindingStatus.FIXED)),
        "## Checklist",
        _checklist(report.checks),
        "## Findings over time",
        _trend(report),
        "## Run statistics",
        _table(("Measure", "Value"), sections.stats_rows(report)),
    ]
    return "\n\n".join(parts) + "\n"


def escape(value: str) -> str:
    """One line of inert text: whitespace runs (newlines too) become one space."""
    return " ".join(value.split()).translate(_ESCAPES)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary(report: Report) -> str:
    table = sections.counts(report)
    headers = ["Severity", *(status.value for status in sections.STATUS_ORDER)]
    rows = [
        [severity.value, *(str(n) for n in by_status.values())]
        for severity, by_status in table.items()
    ]
    totals = [
        sum(by_status[status] for by_status in table.values()) for status in sections.STATUS_ORDER
    ]
    rows.append(["total", *(str(n) for n in totals)])
    return _table(headers, rows)


def _rule(finding: ReportedFinding) -> str:
    if finding.rule_name and finding.rule_name != finding.rule:
        return f"{finding.rule} {finding.rule_name}"
    return finding.rule


def _open(findings: list[ReportedFinding]) -> str:
    if not findings:
        return "None."
    headers = ("Status", "Severity", "Tool", "Rule", "Location", "Finding", "First seen")
    rows = [
        (
            f.status.value,
            f.severity.value,
            f.tool.value,
            _rule(f),
            sections.location(f),
            sections.detail(f),
            f.first_seen_at.date().isoformat() if f.first_seen_at else "",
        )
        for f in findings
    ]
    return _table(headers, rows)


def _suppressed(findings: list[ReportedFinding]) -> str:
    if not findings:
        return "None."
    headers = (
        "Severity",
        "Tool",
        "Rule",
        "Location",
        "Finding",
        "Justification",
        "Approver",
        "Expires",
    )
    rows = []
    for f in findings:
        accepted = f.suppression
        rows.append(
            (
                f.severity.value,
                f.tool.value,
                _rule(f),
                sections.location(f),
                sections.detail(f),
                accepted.justification if accepted else "",
                accepted.approver if accepted else "",
                accepted.expires_at.date().isoformat() if accepted else "",
            )
        )
    return _table(headers, rows)


def _fixed(findings: list[ReportedFinding]) -> str:
    if not findings:
        return "None."
    headers = ("Severity", "Tool", "Rule", "Location", "Finding")
    rows = [
        (f.severity.value, f.tool.value, _rule(f), sections.location(f), sections.detail(f))
        for f in findings
    ]
    return _table(headers, rows)


def _checklist(checks: list[CheckResult]) -> str:
    if not checks:
        return "The checklist was not part of this run."
    headers = ("Item", "Title", "Severity", "Kind", "Status", "Explanation", "Attestation")
    rows = [
        (
            check.item_id,
            check.title,
            check.severity.value,
            check.kind.value,
            check.status.value,
            check.explanation,
            sections.attestation(check),
        )
        for check in checks
    ]
    return _table(headers, rows)


def _trend(report: Report) -> str:
    if not report.trend:
        return "No runs recorded yet."
    return _table(sections.TREND_HEADERS, sections.trend_rows(report.trend))
