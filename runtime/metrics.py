"""The runtime's Prometheus series and one run's latency measurements.

Latencies follow the definitions in the provider-streams reference: TTFT runs to the first
content-bearing event (a non-empty text, reasoning or tool-argument delta), inter-chunk gaps
are between content events, end-to-end runs to the finish. `RunClock` is fed from the hot
path with `perf_counter()` readings only; everything else happens once the run has ended.
"""

import time
from dataclasses import dataclass, field

from prometheus_client import Counter, Histogram

# Runtime latencies are milliseconds on the local provider and seconds on real models.
_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
_GAP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
_LABELS = ("provider", "model")

TTFT = Histogram(
    "gatehouse_runtime_ttft_seconds",
    "Run received to first content event sent",
    _LABELS,
    buckets=_LATENCY_BUCKETS,
)
INTER_CHUNK = Histogram(
    "gatehouse_runtime_inter_chunk_seconds",
    "Gaps between content events sent",
    _LABELS,
    buckets=_GAP_BUCKETS,
)
E2E = Histogram(
    "gatehouse_runtime_e2e_seconds",
    "Run received to run.finish sent",
    _LABELS,
    buckets=_LATENCY_BUCKETS,
)
OVERHEAD = Histogram(
    "gatehouse_runtime_overhead_seconds",
    "The runtime's share of TTFT: TTFT minus the provider's own",
    _LABELS,
    buckets=_LATENCY_BUCKETS,
)
RUNS = Counter("gatehouse_runtime_runs", "Finished runs", [*_LABELS, "finish_reason"])


@dataclass
class RunClock:
    """perf_counter() readings of one run, in seconds; None until the moment happens."""

    received: float
    first_content_sent: float | None = None
    turn_started: float | None = None  # the current model call's start
    upstream_first_content: float | None = None  # relative to its own turn's start
    finish_sent: float | None = None
    last_content_sent: float | None = None
    gaps: list[float] = field(default_factory=list)

    def turn_start(self) -> None:
        self.turn_started = time.perf_counter()

    def provider_content(self) -> None:
        """The provider produced content; only the turn that gave the run its TTFT counts."""
        if self.upstream_first_content is None and self.turn_started is not None:
            self.upstream_first_content = time.perf_counter() - self.turn_started

    def content_sent(self) -> None:
        now = time.perf_counter()
        if self.first_content_sent is None:
            self.first_content_sent = now
        elif self.last_content_sent is not None:
            self.gaps.append(now - self.last_content_sent)
        self.last_content_sent = now

    def finished(self) -> None:
        if self.finish_sent is None:
            self.finish_sent = time.perf_counter()

    def ttft(self) -> float | None:
        return None if self.first_content_sent is None else self.first_content_sent - self.received

    def e2e(self) -> float:
        end = self.finish_sent if self.finish_sent is not None else time.perf_counter()
        return end - self.received

    def overhead(self) -> float | None:
        ttft = self.ttft()
        if ttft is None or self.upstream_first_content is None:
            return None
        return max(0.0, ttft - self.upstream_first_content)


def observe(clock: RunClock, provider: str, model: str, finish_reason: str) -> None:
    ttft, overhead = clock.ttft(), clock.overhead()
    if ttft is not None:
        TTFT.labels(provider, model).observe(ttft)
    if overhead is not None:
        OVERHEAD.labels(provider, model).observe(overhead)
    gaps = INTER_CHUNK.labels(provider, model)
    for gap in clock.gaps:
        gaps.observe(gap)
    E2E.labels(provider, model).observe(clock.e2e())
    RUNS.labels(provider, model, finish_reason).inc()


def millis(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
