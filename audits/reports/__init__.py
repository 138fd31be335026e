"""Rendering a finished run: JSON, Markdown, self-contained HTML and SARIF 2.1.0.

Every format renders only what the `Report` holds, and a `Finding` never holds a raw secret, so
no report can leak one.
"""

from collections.abc import Callable
from enum import StrEnum

from audits.model import Report
from audits.reports.html import render_html
from audits.reports.json_report import render_json
from audits.reports.markdown import render_markdown
from audits.reports.sarif import render_sarif


class ReportFormat(StrEnum):
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"
    SARIF = "sarif"


_RENDERERS: dict[ReportFormat, Callable[[Report], str]] = {
    ReportFormat.JSON: render_json,
    ReportFormat.MARKDOWN: render_markdown,
    ReportFormat.HTML: render_html,
    ReportFormat.SARIF: render_sarif,
}


def render(report: Report, fmt: ReportFormat) -> str:
    return _RENDERERS[ReportFormat(fmt)](report)


__all__ = ["ReportFormat", "render"]
