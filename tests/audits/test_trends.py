"""Trends: per-run counts computed from a long table of rows over several runs."""

from datetime import UTC, datetime, timedelta

from audits.model import Category, FindingStatus, Severity
from audits.trends import TrendRow, trend

T0 = datetime(2026, 2, 1, 3, tzinfo=UTC)
NEW, OPEN, FIXED, SUPPRESSED = (
    FindingStatus.NEW,
    FindingStatus.OPEN,
    FindingStatus.FIXED,
    FindingStatus.SUPPRESSED,
)


def _rows(
    run_id: str, day: int, *findings: tuple[str, FindingStatus, Severity, Category]
) -> list[TrendRow]:
    started = T0 + timedelta(days=day)
    return [
        TrendRow(run_id, started, fp, status, severity, category)
        for fp, status, severity, category in findings
    ]


def test_counts_per_run_oldest_first() -> None:
    # Run ids sort differently from their start times, and rows arrive shuffled.
    rows = [
        *_rows(
            "run-b",
            1,
            ("aws-key", OPEN, Severity.CRITICAL, Category.SECRET),
            ("shell", FIXED, Severity.HIGH, Category.CODE),
            ("md5", NEW, Severity.MEDIUM, Category.CODE),
            ("tmp", SUPPRESSED, Severity.LOW, Category.CODE),
        ),
        *_rows(
            "run-c",
            0,
            ("aws-key", NEW, Severity.CRITICAL, Category.SECRET),
            ("shell", NEW, Severity.HIGH, Category.CODE),
            ("tmp", NEW, Severity.LOW, Category.CODE),
            ("shell", NEW, Severity.HIGH, Category.CODE),  # a duplicate row counts once
        ),
        TrendRow("run-a", T0 + timedelta(days=2)),  # a run that found nothing at all
        *_rows("run-d", 3, ("t-tokens", OPEN, Severity.HIGH, Category.CONFIGURATION)),
    ]

    points = trend(rows)

    assert [p.run_id for p in points] == ["run-c", "run-b", "run-a", "run-d"]
    first, second, empty, last = points
    assert first.started_at == T0
    assert (first.new, first.fixed, first.open, first.suppressed) == (3, 0, 3, 0)
    assert (second.new, second.fixed, second.open, second.suppressed) == (1, 1, 2, 1)
    assert (empty.new, empty.fixed, empty.open, empty.suppressed) == (0, 0, 0, 0)
    assert (last.new, last.fixed, last.open, last.suppressed) == (0, 0, 1, 0)

    # By severity and category: present and unsuppressed only, every key always there.
    assert first.by_severity == {"info": 0, "low": 1, "medium": 0, "high": 1, "critical": 1}
    assert second.by_severity == {"info": 0, "low": 0, "medium": 1, "high": 0, "critical": 1}
    assert second.by_category == {"secret": 1, "code": 1, "configuration": 0}
    assert empty.by_category == {"secret": 0, "code": 0, "configuration": 0}
    assert last.by_category == {"secret": 0, "code": 0, "configuration": 1}


def test_no_rows_no_points() -> None:
    assert trend([]) == []


def test_a_generator_of_many_runs() -> None:
    runs = 200

    points = trend(
        TrendRow(
            f"run-{n:03}", T0 + timedelta(hours=n), f"fp-{k}", OPEN, Severity.LOW, Category.CODE
        )
        for n in range(runs)
        for k in range(n % 7)
    )

    # Runs with no rows at all have no point: the caller adds a bare row for those.
    assert len(points) == sum(1 for n in range(runs) if n % 7)
    assert [p.open for p in points[:6]] == [1, 2, 3, 4, 5, 6]
