"""Findings over time: per-run counts from a long table of (run, finding) rows.

The control plane feeds this from its stored runs (one row per reported finding per run); the
counts are computed with pandas in one pass over the table, not run by run.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from audits.model import Category, FindingStatus, Severity, TrendPoint

if TYPE_CHECKING:
    import pandas as pd

_COLUMNS = ["run_id", "started_at", "fingerprint", "status", "severity", "category"]
_PRESENT_UNSUPPRESSED = [FindingStatus.NEW.value, FindingStatus.OPEN.value]


@dataclass(frozen=True, slots=True)
class TrendRow:
    """One reported finding of one run.

    A run that reported nothing still needs a point: give it one row with `fingerprint` and the
    rest left as None (what an outer join of runs with their findings yields).
    """

    run_id: str
    started_at: datetime
    fingerprint: str | None = None
    status: FindingStatus | None = None
    severity: Severity | None = None
    category: Category | None = None


def trend(rows: Iterable[TrendRow]) -> list[TrendPoint]:
    """One point per run, oldest first (ties broken by run id)."""
    # Imported here: every `gatehouse` command loads this module, and pandas alone costs a
    # quarter of a second at start-up that only trend-building commands should pay.
    import pandas as pd  # noqa: PLC0415 - deferred on purpose, see above

    table = pd.DataFrame([asdict(row) for row in rows], columns=_COLUMNS)
    if table.empty:
        return []
    runs = (
        table.groupby("run_id", sort=False)["started_at"]
        .min()
        .reset_index()
        .sort_values(["started_at", "run_id"])
    )
    findings = table.dropna(subset=["fingerprint", "status"]).drop_duplicates(
        ["run_id", "fingerprint"]
    )
    findings = findings.assign(
        status=findings["status"].map(str),
        severity=findings["severity"].map(str),
        category=findings["category"].map(str),
    )
    by_status = _counts(findings, "status", [status.value for status in FindingStatus])
    unsuppressed = findings[findings["status"].isin(_PRESENT_UNSUPPRESSED)]
    by_severity = _counts(unsuppressed, "severity", [severity.value for severity in Severity])
    by_category = _counts(unsuppressed, "category", [category.value for category in Category])

    order = runs["run_id"].tolist()
    statuses, severities, categories = (
        _per_run(counts, order) for counts in (by_status, by_severity, by_category)
    )
    return [
        TrendPoint(
            run_id=run_id,
            started_at=started_at.to_pydatetime(),
            new=statuses[run_id][FindingStatus.NEW],
            fixed=statuses[run_id][FindingStatus.FIXED],
            open=statuses[run_id][FindingStatus.NEW] + statuses[run_id][FindingStatus.OPEN],
            suppressed=statuses[run_id][FindingStatus.SUPPRESSED],
            by_severity=severities[run_id],
            by_category=categories[run_id],
        )
        for run_id, started_at in zip(order, runs["started_at"], strict=True)
    ]


def _counts(findings: "pd.DataFrame", column: str, values: list[str]) -> "pd.DataFrame":
    """Runs by `values` of `column`, every value a column even when no run has it."""
    return (
        findings.groupby(["run_id", column])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=values, fill_value=0)
    )


def _per_run(counts: "pd.DataFrame", order: list[str]) -> dict[str, dict[str, int]]:
    """Plain ints by run id, with a row of zeros for a run that had none of these findings."""
    rows = counts.reindex(order, fill_value=0).to_dict(orient="index")
    return {str(run): {str(k): int(v) for k, v in row.items()} for run, row in rows.items()}
