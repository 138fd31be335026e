"""The runtime's service-level objectives, computed from stored per-run measurements.

Two objectives, both from the settings:
- latency (`slo_runtime_ttft_p95_ms`): the time to first token the runtime itself adds
  (`overhead_ms`), at p95, over successful runs that have a measurement;
- errors (`slo_error_rate`): the share of runs that finished with `error`.

A cancelled run is the caller's decision, neither a failure nor a success: it counts in
neither numerator nor denominator. A run still going counts nowhere yet.

Percentiles are nearest-rank, so "p95 within the target" and "attainment at least 95%" always
agree. A burn rate is how fast the window spends its error budget: 1 spends exactly the budget,
above 1 breaches. Comparisons use exact fractions: 1 error in 100 runs meets a 1% objective.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, Protocol

from controlplane.config import Settings

LATENCY_QUANTILE = Fraction(95, 100)
LATENCY_BUDGET = 1 - LATENCY_QUANTILE  # a p95 objective lets 5% of runs be slower
Status = Literal["met", "breached", "no data"]


class Measured(Protocol):
    @property
    def provider(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def finish_reason(self) -> str | None: ...
    @property
    def overhead_ms(self) -> float | None: ...


@dataclass(frozen=True)
class Objectives:
    ttft_p95_ms: float
    error_rate: float

    @classmethod
    def from_settings(cls, settings: Settings) -> "Objectives":
        return cls(settings.slo_runtime_ttft_p95_ms, settings.slo_error_rate)


@dataclass(frozen=True)
class ScopeReport:
    scope: str  # "all", or "provider·model"
    provider: str | None
    model: str | None
    runs: int  # finished, not cancelled: the error rate's denominator
    errors: int
    cancelled: int
    unfinished: int
    error_rate: float | None
    error_burn_rate: float | None
    errors_met: bool | None
    measured: int  # successful runs with an overhead measurement
    overhead_p50_ms: float | None
    overhead_p95_ms: float | None
    overhead_p99_ms: float | None
    attainment: float | None  # the share of `measured` within the latency target
    latency_burn_rate: float | None
    latency_met: bool | None
    status: Status


@dataclass(frozen=True)
class SloReport:
    objectives: Objectives
    overall: ScopeReport
    scopes: list[ScopeReport]  # one per provider and model, sorted

    @property
    def empty(self) -> bool:
        return self.overall.runs + self.overall.cancelled + self.overall.unfinished == 0


def percentile(ordered: Sequence[float], quantile: Fraction) -> float:
    """Nearest-rank percentile of sorted values: the smallest value that at least `quantile`
    of the values do not exceed."""
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[rank - 1]


def compute(rows: Iterable[Measured], objectives: Objectives) -> SloReport:
    everything = list(rows)
    groups: dict[tuple[str, str], list[Measured]] = {}
    for row in everything:
        groups.setdefault((row.provider, row.model), []).append(row)
    scopes = [
        _scope(f"{provider}·{model}", provider, model, groups[provider, model], objectives)
        for provider, model in sorted(groups)
    ]
    overall = _scope("all", None, None, everything, objectives)
    return SloReport(objectives=objectives, overall=overall, scopes=scopes)


def _scope(
    name: str,
    provider: str | None,
    model: str | None,
    rows: list[Measured],
    objectives: Objectives,
) -> ScopeReport:
    finished = [row for row in rows if row.finish_reason not in (None, "cancelled")]
    errors = sum(1 for row in finished if row.finish_reason == "error")
    overheads = sorted(
        row.overhead_ms
        for row in finished
        if row.finish_reason != "error" and row.overhead_ms is not None
    )
    error_share = Fraction(errors, len(finished)) if finished else None
    error_objective = Fraction(str(objectives.error_rate))
    latency = _latency(overheads, objectives.ttft_p95_ms)
    errors_met = None if error_share is None else error_share <= error_objective
    return ScopeReport(
        scope=name,
        provider=provider,
        model=model,
        runs=len(finished),
        errors=errors,
        cancelled=sum(1 for row in rows if row.finish_reason == "cancelled"),
        unfinished=sum(1 for row in rows if row.finish_reason is None),
        error_rate=None if error_share is None else float(error_share),
        error_burn_rate=None if error_share is None else float(error_share / error_objective),
        errors_met=errors_met,
        measured=len(overheads),
        overhead_p50_ms=latency.p50,
        overhead_p95_ms=latency.p95,
        overhead_p99_ms=latency.p99,
        attainment=latency.attainment,
        latency_burn_rate=latency.burn_rate,
        latency_met=latency.met,
        status=_status(errors_met, latency.met),
    )


@dataclass(frozen=True)
class _Latency:
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    attainment: float | None = None
    burn_rate: float | None = None
    met: bool | None = None


def _latency(ordered: list[float], target_ms: float) -> _Latency:
    if not ordered:
        return _Latency()
    within = sum(1 for value in ordered if value <= target_ms)
    slower = Fraction(len(ordered) - within, len(ordered))
    return _Latency(
        p50=percentile(ordered, Fraction(1, 2)),
        p95=percentile(ordered, LATENCY_QUANTILE),
        p99=percentile(ordered, Fraction(99, 100)),
        attainment=within / len(ordered),
        burn_rate=float(slower / LATENCY_BUDGET),
        met=slower <= LATENCY_BUDGET,
    )


def _status(*met: bool | None) -> Status:
    known = [value for value in met if value is not None]
    if not known:
        return "no data"
    return "met" if all(known) else "breached"
