"""The report as one self-contained, accessible HTML page.

Inline CSS and an inline SVG chart; no script, no external resource, and a Content-Security-Policy
that would refuse both anyway. Everything from the scanned tree (paths, messages, names, even the
target) is untrusted and goes through `html.escape`. Status and severity are always written out
as words; colour only repeats them.
"""

from collections.abc import Sequence
from html import escape

from audits.model import CheckResult, FindingStatus, Report, ReportedFinding
from audits.reports import sections
from audits.reports.chart import trend_svg

_STYLE = """
body { font-family: system-ui, sans-serif; color: #1f2328; background: #ffffff;
       margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.5rem; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
thead th, tbody th { background: #f2f4f7; }
td.count { text-align: right; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0 0.4rem; border-radius: 0.3rem; font-weight: 600;
         border: 1px solid currentColor; }
.severity-critical { color: #7a0b0b; background: #fde8e8; }
.severity-high { color: #8a1c0c; background: #fdece6; }
.severity-medium { color: #6b4a00; background: #fff4d6; }
.severity-low { color: #1d4f91; background: #e8f1fd; }
.severity-info { color: #3d4650; background: #eef0f3; }
figure { margin: 0; } figcaption { color: #57606a; font-size: 0.9rem; }
a { color: #0b5394; }
"""
_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


def render_html(report: Report) -> str:
    title = f"Security audit: {report.target}"
    body = [
        f"<header><h1>{escape(title)}</h1>",
        f"<p>Run <code>{escape(report.run_id)}</code>, started "
        f"{escape(report.started_at.isoformat())}.</p></header>",
        "<main>",
        _section("summary", "Summary", _summary(report)),
        _section(
            "open",
            "Open findings",
            _findings(
                "New and open findings",
                sections.with_status(report, FindingStatus.NEW, FindingStatus.OPEN),
            ),
        ),
        _section(
            "suppressed",
            "Suppressed findings",
            _suppressed(sections.with_status(report, FindingStatus.SUPPRESSED)),
        ),
        _section(
            "fixed",
            "Fixed since the previous run",
            _findings("Fixed findings", sections.with_status(report, FindingStatus.FIXED)),
        ),
        _section("checklist", "Checklist", _checklist(report.checks)),
        _section("trend", "Findings over time", _trend(report)),
        _section(
            "statistics",
            "Run statistics",
            _table("Run statistics", ("Measure", "Value"), sections.stats_rows(report), 1),
        ),
        "</main>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _section(anchor: str, heading: str, content: str) -> str:
    return (
        f'<section aria-labelledby="{anchor}-heading">\n'
        f'<h2 id="{anchor}-heading">{heading}</h2>\n{content}\n</section>'
    )


def _table(
    caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]], row_headers: int = 0
) -> str:
    """Cells are escaped here; pass `_Markup` for cells already built as safe HTML."""
    head = "".join(f'<th scope="col">{escape(header)}</th>' for header in headers)
    lines = [f"<table>\n<caption>{escape(caption)}</caption>", f"<thead><tr>{head}</tr></thead>"]
    lines.append("<tbody>")
    for row in rows:
        cells = "".join(
            f'<th scope="row">{_cell(cell)}</th>' if index < row_headers else _td(cell)
            for index, cell in enumerate(row)
        )
        lines.append(f"<tr>{cells}</tr>")
    lines.append("</tbody>\n</table>")
    return "\n".join(lines)


class _Markup(str):
    """HTML this module built from escaped parts: inserted as is."""

    __slots__ = ()


def _cell(value: str) -> str:
    return value if isinstance(value, _Markup) else escape(value)


def _td(value: str) -> str:
    css = ' class="count"' if value.isdigit() else ""
    return f"<td{css}>{_cell(value)}</td>"


def _badge(kind: str, value: str) -> _Markup:
    return _Markup(f'<span class="badge {kind}-{escape(value)}">{escape(value)}</span>')


def _summary(report: Report) -> str:
    table = sections.counts(report)
    headers = ("Severity", *(status.value for status in sections.STATUS_ORDER))
    rows: list[list[str]] = [
        [_badge("severity", severity.value), *(str(n) for n in by_status.values())]
        for severity, by_status in table.items()
    ]
    rows.append(
        [
            "total",
            *(str(sum(row[status] for row in table.values())) for status in sections.STATUS_ORDER),
        ]
    )
    return _table("Findings by severity and status", headers, rows, 1)


def _finding_cells(finding: ReportedFinding) -> list[str]:
    rule = finding.rule
    if finding.rule_name and finding.rule_name != finding.rule:
        rule = f"{finding.rule} {finding.rule_name}"
    return [
        finding.status.value,
        _badge("severity", finding.severity.value),
        finding.tool.value,
        rule,
        sections.location(finding),
        sections.detail(finding),
    ]


def _findings(caption: str, findings: list[ReportedFinding]) -> str:
    if not findings:
        return "<p>None.</p>"
    headers = ("Status", "Severity", "Tool", "Rule", "Location", "Finding", "First seen")
    rows = [
        [
            *_finding_cells(finding),
            finding.first_seen_at.date().isoformat() if finding.first_seen_at else "",
        ]
        for finding in findings
    ]
    return _table(caption, headers, rows)


def _suppressed(findings: list[ReportedFinding]) -> str:
    if not findings:
        return "<p>None.</p>"
    headers = (
        "Status",
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
    for finding in findings:
        accepted = finding.suppression
        rows.append(
            [
                *_finding_cells(finding),
                accepted.justification if accepted else "",
                accepted.approver if accepted else "",
                accepted.expires_at.date().isoformat() if accepted else "",
            ]
        )
    return _table("Suppressed findings, with who accepted them and until when", headers, rows)


def _checklist(checks: list[CheckResult]) -> str:
    if not checks:
        return "<p>The checklist was not part of this run.</p>"
    headers = ("Item", "Title", "Severity", "Kind", "Status", "Explanation", "Attestation")
    rows = [
        [
            check.item_id,
            check.title,
            _badge("severity", check.severity.value),
            check.kind.value,
            check.status.value,
            check.explanation,
            sections.attestation(check),
        ]
        for check in checks
    ]
    return _table("Checklist results", headers, rows, 1)


def _trend(report: Report) -> str:
    if not report.trend:
        return "<p>No runs recorded yet.</p>"
    table = _table(
        "Findings per run (the chart's data)",
        sections.TREND_HEADERS,
        sections.trend_rows(report.trend),
        1,
    )
    return (
        f"<figure>\n{trend_svg(report.trend)}\n"
        "<figcaption>Open findings (new included), new, fixed and suppressed findings per run, "
        "oldest first. The table below holds the same numbers.</figcaption>\n</figure>\n" + table
    )
