"""The findings-over-time chart: readable axes whatever the number of runs and findings."""

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from audits.model import TrendPoint
from audits.reports.chart import trend_svg

T0 = datetime(2026, 1, 1, 2, tzinfo=UTC)


def _points(opens: list[int]) -> list[TrendPoint]:
    return [
        TrendPoint(
            run_id=f"run-{n}",
            started_at=T0 + timedelta(days=n),
            new=1,
            fixed=0,
            open=count,
            suppressed=0,
        )
        for n, count in enumerate(opens)
    ]


@pytest.mark.parametrize(
    ("largest", "top"),
    [(0, 4), (3, 4), (7, 8), (9, 12), (40, 40), (137, 200), (1000, 1000), (1001, 2000)],
)
def test_the_y_axis_tops_out_at_a_round_number_above_the_largest_count(
    largest: int, top: int
) -> None:
    svg = trend_svg(_points([largest]))

    ticks = [int(t) for t in re.findall(r'text-anchor="end">(\d+)</text>', svg)]
    assert ticks == [0, top // 4, top // 2, 3 * top // 4, top]


@pytest.mark.parametrize("runs", [1, 2, 8, 9, 14, 30])
def test_dates_under_the_axis_are_spread_out_and_the_latest_is_always_shown(runs: int) -> None:
    svg = trend_svg(_points([1] * runs))

    labels = re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="middle">([\d-]+)</text>', svg)
    assert 1 <= len(labels) <= 9
    assert labels[-1][1] == (T0 + timedelta(days=runs - 1)).date().isoformat()
    positions = [float(x) for x, _ in labels]
    assert all(b - a >= 80 for a, b in pairwise(positions))


def test_every_point_is_marked_for_each_series() -> None:
    svg = trend_svg(_points([5, 6, 7]))

    assert len(re.findall(r"<title>Open \(new included\): \d+ in run", svg)) == 3
    assert len(re.findall(r"<title>Suppressed: 0 in run", svg)) == 3
