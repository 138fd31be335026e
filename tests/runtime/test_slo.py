"""SLO arithmetic on hand-built measurement rows: no database, exact expectations."""

from datetime import UTC, datetime
from fractions import Fraction

import pytest

from runtime.slo import Objectives, compute, percentile
from runtime.store.measurements import RunMeasurement

OBJECTIVES = Objectives(ttft_p95_ms=25.0, error_rate=0.01)
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def row(
    overhead_ms: float | None = 5.0,
    finish_reason: str | None = "stop",
    provider: str = "openai",
    model: str = "gpt-4o",
) -> RunMeasurement:
    return RunMeasurement(
        id=f"run_{overhead_ms}_{finish_reason}",
        provider=provider,
        model=model,
        started_at=T0,
        finish_reason=finish_reason,
        error_code="provider_error" if finish_reason == "error" else None,
        ttft_ms=None if overhead_ms is None else overhead_ms + 100,
        upstream_ttft_ms=100.0,
        overhead_ms=overhead_ms,
        e2e_ms=900.0,
    )


def test_nearest_rank_percentiles() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, Fraction(1, 2)) == 50.0
    assert percentile(values, Fraction(95, 100)) == 95.0
    assert percentile(values, Fraction(99, 100)) == 99.0
    assert percentile([7.0], Fraction(99, 100)) == 7.0
    assert percentile([1.0, 2.0, 3.0], Fraction(1, 2)) == 2.0


def test_attainment_exactly_at_the_budget_meets_the_objective() -> None:
    # 100 successful runs, 5 of them slower than 25 ms: exactly the 5% a p95 objective allows.
    rows = [row(n / 10) for n in range(1, 96)] + [row(100.0 + n) for n in range(5)]
    overall = compute(rows, OBJECTIVES).overall
    assert (overall.runs, overall.measured, overall.errors) == (100, 100, 0)
    assert overall.attainment == 0.95
    assert overall.latency_burn_rate == 1.0
    assert overall.latency_met is True
    assert (overall.overhead_p50_ms, overall.overhead_p95_ms, overall.overhead_p99_ms) == (
        5.0,
        9.5,
        103.0,
    )


def test_one_run_more_over_the_target_breaches() -> None:
    rows = [row(10.0)] * 94 + [row(30.0)] * 6
    overall = compute(rows, OBJECTIVES).overall
    assert overall.attainment == 0.94
    assert overall.latency_burn_rate == pytest.approx(1.2)
    assert overall.overhead_p95_ms == 30.0
    assert (overall.latency_met, overall.status) == (False, "breached")


def test_error_rate_and_burn_with_cancelled_runs_left_out() -> None:
    rows = (
        [row(10.0)] * 97
        + [row(None, "error")] * 2
        + [row(10.0, "length")]
        + [row(None, "cancelled")] * 50
        + [row(None, None)] * 3  # still going
    )
    overall = compute(rows, OBJECTIVES).overall
    assert (overall.runs, overall.errors, overall.cancelled, overall.unfinished) == (100, 2, 50, 3)
    assert overall.error_rate == 0.02
    assert overall.error_burn_rate == 2.0
    assert overall.errors_met is False
    assert overall.measured == 98  # error runs have no TTFT to count
    assert (overall.latency_met, overall.status) == (True, "breached")


def test_exactly_the_error_objective_is_met() -> None:
    rows = [row(10.0)] * 99 + [row(None, "error")]
    overall = compute(rows, OBJECTIVES).overall
    assert (overall.error_rate, overall.error_burn_rate, overall.errors_met) == (0.01, 1.0, True)
    assert overall.status == "met"
    odd = compute([row(10.0)] * 71 + [row(None, "error")] * 29, Objectives(25.0, 0.29)).overall
    assert odd.errors_met is True  # 29/100 meets 0.29, which a float product would miss


def test_scopes_per_provider_and_model() -> None:
    rows = [
        row(10.0, provider="openai", model="gpt-4o"),
        row(None, "error", provider="openai", model="gpt-4o"),
        row(30.0, provider="anthropic", model="claude"),
        row(12.0, provider="anthropic", model="claude"),
        row(None, "cancelled", provider="local", model="echo"),
    ]
    report = compute(rows, OBJECTIVES)
    assert [scope.scope for scope in report.scopes] == [
        "anthropic·claude",
        "local·echo",
        "openai·gpt-4o",
    ]
    claude, echo, gpt = report.scopes
    assert (claude.runs, claude.attainment, claude.latency_burn_rate) == (2, 0.5, 10.0)
    assert (claude.provider, claude.model, claude.status) == ("anthropic", "claude", "breached")
    assert (echo.runs, echo.cancelled, echo.error_rate, echo.status) == (0, 1, None, "no data")
    assert (gpt.runs, gpt.errors, gpt.error_rate, gpt.measured) == (2, 1, 0.5, 1)
    assert (report.overall.runs, report.overall.errors, report.overall.measured) == (4, 1, 3)
    assert not report.empty


def test_no_runs() -> None:
    report = compute([], OBJECTIVES)
    assert report.empty
    assert report.scopes == []
    overall = report.overall
    assert (overall.runs, overall.error_rate, overall.attainment) == (0, None, None)
    assert (overall.overhead_p95_ms, overall.latency_burn_rate, overall.error_burn_rate) == (
        None,
        None,
        None,
    )
    assert overall.status == "no data"


def test_only_errors_leave_latency_without_data() -> None:
    overall = compute([row(None, "error")], OBJECTIVES).overall
    assert (overall.measured, overall.latency_met, overall.attainment) == (0, None, None)
    assert (overall.errors_met, overall.status) == (False, "breached")
