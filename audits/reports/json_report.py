"""The report as JSON: the `Report` model itself, keys sorted so equal reports are equal text."""

import json

from audits.model import Report


def render_json(report: Report) -> str:
    document = report.model_dump(mode="json")
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
