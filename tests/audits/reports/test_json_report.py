"""JSON: the Report itself, keys in a stable order, and nothing else."""

import json

from audits.model import Report
from audits.reports import ReportFormat, render
from tests.audits.reports.sample import sample_report


def test_the_json_report_is_the_report() -> None:
    report = sample_report()

    text = render(report, ReportFormat.JSON)

    assert Report.model_validate_json(text) == report
    assert json.loads(text) == report.model_dump(mode="json")


def test_keys_are_sorted_at_every_level_and_indented() -> None:
    text = render(sample_report(), ReportFormat.JSON)

    def check(value: object) -> None:
        if isinstance(value, dict):
            assert list(value) == sorted(value)
            for child in value.values():
                check(child)
        elif isinstance(value, list):
            for child in value:
                check(child)

    check(json.loads(text))
    assert text.startswith('{\n  "checks": [')


def test_equal_reports_render_to_equal_text() -> None:
    # Same content, dictionaries filled in another order.
    shuffled = sample_report(
        tool_versions={"bandit": "1.9.4", "gatehouse": "0.1.0", "detect-secrets": "1.5.0"}
    )

    assert render(sample_report(), ReportFormat.JSON) == render(shuffled, ReportFormat.JSON)
