"""Markdown: sections in order, suppressions explained, and untrusted text kept inert."""

import re

from audits.reports import ReportFormat, render
from audits.reports.markdown import escape
from tests.audits.reports.sample import JUSTIFICATION, sample_report

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _table(section: str) -> list[list[str]]:
    """Rows of the section's table, split on the pipes that delimit cells."""
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in UNESCAPED_PIPE.split(row)[1:-1]] for row in rows]


def test_sections_come_in_order() -> None:
    text = render(sample_report(), ReportFormat.MARKDOWN)

    assert text.startswith("# Security audit: example/repo\n")
    assert list(_sections(text)) == [
        "Summary",
        "Open findings",
        "Suppressed findings",
        "Fixed since the previous run",
        "Checklist",
        "Findings over time",
        "Run statistics",
    ]


def test_summary_counts_by_severity_and_status() -> None:
    rows = _table(_sections(render(sample_report(), ReportFormat.MARKDOWN))["Summary"])

    assert rows[0] == ["Severity", "new", "open", "suppressed", "fixed"]
    counts = {row[0]: row[1:] for row in rows[2:]}
    assert counts["critical"] == ["0", "1", "0", "0"]
    assert counts["high"] == ["1", "1", "0", "0"]
    assert counts["medium"] == ["0", "0", "1", "1"]
    assert counts["total"] == ["1", "2", "1", "1"]


def test_open_findings_most_severe_first_then_suppressed_with_reasons_then_fixed() -> None:
    sections = _sections(render(sample_report(), ReportFormat.MARKDOWN))

    open_rows = _table(sections["Open findings"])[2:]
    assert [(row[0], row[1]) for row in open_rows] == [
        ("open", "critical"),
        ("new", "high"),
        ("open", "high"),
    ]
    assert "AKIA…WXYZ" in open_rows[0][5]  # the redacted preview, as the finding holds it

    [suppressed] = _table(sections["Suppressed findings"])[2:]
    assert suppressed[2] == "Secret Keyword"
    assert suppressed[5] == escape(JUSTIFICATION)
    assert suppressed[6] == "security-team"
    assert suppressed[7] == "2026-06-30"

    [fixed] = _table(sections["Fixed since the previous run"])[2:]
    assert fixed[2] == "B303"


def test_untrusted_text_cannot_break_the_table_or_become_markup() -> None:
    text = render(sample_report(), ReportFormat.MARKDOWN)
    sections = _sections(text)

    for name in ("Open findings", "Suppressed findings", "Checklist", "Run statistics"):
        header, *rows = _table(sections[name])
        assert all(len(row) == len(header) for row in rows), name
    # No raw HTML, link or code span can start: every '<', '[' and '`' arrives escaped.
    assert not re.search(r"(?<!\\)[<\[`]", text)
    hostile = next(row for row in _table(sections["Open findings"]) if row[3].startswith("B602"))
    assert hostile[4] == r"\<script\>alert(1)\</script\>.py:7"
    assert r"Shell call \| built from \`input()\` \<img" in hostile[5]


def test_escape_handles_backslashes_before_pipes() -> None:
    assert escape("a\\|b") == r"a\\\|b"
    assert escape("line one\nline two") == "line one line two"
    assert escape("__init__ *x* ~y~ &amp;") == r"\_\_init\_\_ \*x\* \~y\~ \&amp;"


def test_checklist_and_run_statistics() -> None:
    sections = _sections(render(sample_report(), ReportFormat.MARKDOWN))

    checks = {row[0]: row for row in _table(sections["Checklist"])[2:]}
    assert checks["T-TOKENS-01"][4] == "fail"
    assert checks["T-KEYS-02"][4] == "manual"
    assert checks["T-LOG-03"][6].startswith("alice on 2026-02-25, until 2026-05-26")
    stats = dict(row for row in _table(sections["Run statistics"])[2:])
    assert stats["Files skipped"] == "binary: 2"
    assert stats["bandit version"] == "1.9.4"
    trend = _table(sections["Findings over time"])
    assert [row[0] for row in trend[2:]] == ["run-0", "run-1", "run-2"]


def test_an_empty_run_says_so() -> None:
    sections = _sections(
        render(sample_report(findings=[], checks=[], trend=[]), ReportFormat.MARKDOWN)
    )

    assert sections["Open findings"].strip() == "None."
    assert sections["Suppressed findings"].strip() == "None."
    assert sections["Checklist"].strip() == "The checklist was not part of this run."
    assert sections["Findings over time"].strip() == "No runs recorded yet."
