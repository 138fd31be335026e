"""HTML: one self-contained, accessible page where nothing from the scanned tree becomes markup."""

import re
from collections import Counter
from html import escape
from html.parser import HTMLParser

from audits.reports import ReportFormat, render
from tests.audits.reports.sample import HOSTILE_PATH, JUSTIFICATION, sample_report

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr"}


class Page(HTMLParser):
    """Every element and attribute of a page, and whether its tags nest properly."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.problems: list[str] = []
        self.tags: Counter[str] = Counter()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)
        self.close()
        if self.open:
            self.problems.append(f"unclosed: {self.open}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_startendtag(tag, attrs)
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"unexpected </{tag}>")

    def with_tag(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.elements if name == tag]


def _section(text: str, anchor: str) -> str:
    start = text.index(f'<section aria-labelledby="{anchor}-heading">')
    return text[start : text.index("</section>", start)]


def test_a_hostile_path_and_message_are_escaped() -> None:
    text = render(sample_report(), ReportFormat.HTML)
    page = Page(text)

    assert "&lt;script&gt;alert(1)&lt;/script&gt;.py:7" in text
    assert HOSTILE_PATH not in text
    assert page.tags["script"] == 0
    assert page.tags["img"] == 0
    assert not [
        name for _, attrs in page.elements for name in attrs if name.lower().startswith("on")
    ]
    assert page.problems == []


def test_the_page_is_self_contained_and_needs_no_script() -> None:
    text = render(sample_report(), ReportFormat.HTML)
    page = Page(text)

    for _, attrs in page.elements:
        assert "src" not in attrs
        assert not (attrs.get("href") or "").startswith(("http:", "https:", "//"))
    assert "@import" not in text
    assert "url(" not in text
    [policy] = [
        m for m in page.with_tag("meta") if m.get("http-equiv") == "Content-Security-Policy"
    ]
    assert (policy["content"] or "").startswith("default-src 'none'")


def test_the_page_is_structured_for_assistive_technology() -> None:
    text = render(sample_report(), ReportFormat.HTML)
    page = Page(text)

    assert text.startswith("<!DOCTYPE html>")
    assert page.with_tag("html") == [{"lang": "en"}]
    assert page.tags["h1"] == 1
    assert page.tags["h2"] == 7
    assert page.tags["main"] == 1
    assert page.tags["caption"] == page.tags["table"]
    assert all(th.get("scope") in ("col", "row") for th in page.with_tag("th"))
    # Every section is named by its heading.
    headings = {attrs.get("id") for attrs in page.with_tag("h2")}
    labels = {attrs.get("aria-labelledby") for attrs in page.with_tag("section")}
    assert labels == headings


def test_status_and_severity_are_written_out_not_only_coloured() -> None:
    findings = _section(render(sample_report(), ReportFormat.HTML), "open")

    rows = re.findall(
        r"<tr><td>(\w+)</td><td><span class=\"badge severity-(\w+)\">(\w+)</span>", findings
    )
    assert rows == [
        ("open", "critical", "critical"),
        ("new", "high", "high"),
        ("open", "high", "high"),
    ]


def test_suppressed_findings_show_justification_approver_and_expiry() -> None:
    suppressed = _section(render(sample_report(), ReportFormat.HTML), "suppressed")

    assert '<th scope="col">Justification</th>' in suppressed
    assert f"<td>{escape(JUSTIFICATION)}</td>" in suppressed
    assert "&lt;b&gt;really&lt;/b&gt;" in suppressed
    assert "<td>security-team</td>" in suppressed
    assert "<td>2026-06-30</td>" in suppressed
    assert "<td>suppressed</td>" in suppressed


def test_fixed_findings_and_the_checklist_are_listed() -> None:
    text = render(sample_report(), ReportFormat.HTML)

    assert "<td>legacy/hashing.py:7</td>" in _section(text, "fixed")
    checklist = _section(text, "checklist")
    assert '<th scope="row">T-KEYS-02</th>' in checklist
    assert "<td>manual</td>" in checklist
    assert "alice on 2026-02-25" in checklist


def test_the_trend_chart_is_inline_svg_with_a_text_alternative_and_a_data_table() -> None:
    trend = _section(render(sample_report(), ReportFormat.HTML), "trend")
    page = Page(trend + "</section>")

    [svg] = page.with_tag("svg")
    assert svg["role"] == "img"
    title_id, desc_id = (svg["aria-labelledby"] or "").split()
    assert {attrs.get("id") for attrs in page.with_tag("title")} >= {title_id}
    assert [attrs.get("id") for attrs in page.with_tag("desc")] == [desc_id]
    assert "3 runs from 2026-02-28 to 2026-03-02" in trend
    # Four series, each point with its value as a tooltip.
    assert page.tags["path"] >= 4
    assert "Open (new included): 3 in run run-2" in trend
    assert "Fixed: 1 in run run-1" in trend
    # The same numbers as a table.
    assert re.findall(r'<th scope="row">(run-\d)</th>', trend) == ["run-0", "run-1", "run-2"]


def test_without_history_there_is_no_chart() -> None:
    text = render(sample_report(trend=[]), ReportFormat.HTML)

    assert "<svg" not in text
    assert "No runs recorded yet." in _section(text, "trend")
