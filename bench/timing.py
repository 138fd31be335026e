"""Timing helpers: calibrated batches, untimed work between batches, median/min/max.

A measurement runs a subject in batches until its time budget is spent. Only the batches are
timed; `between` (e.g. the simulated revocation poller) runs outside the timed region.
"""

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter

Batch = Callable[[int], None]

_MAX_BATCH = 1 << 22


@dataclass(frozen=True)
class Sample:
    iterations: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.iterations / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Summary:
    median: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Summary":
        return cls(statistics.median(values), min(values), max(values))

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "min": self.min, "max": self.max}


def calibrate(run: Batch, target_seconds: float, between: Callable[[], None] | None = None) -> int:
    """The batch size that takes about `target_seconds` (doubling, then scaling once)."""
    size = 1
    while True:
        if between is not None:
            between()
        start = perf_counter()
        run(size)
        elapsed = perf_counter() - start
        if elapsed >= target_seconds / 2 or size >= _MAX_BATCH:
            scaled = int(size * target_seconds / elapsed) if elapsed > 0 else size
            return max(1, min(scaled, _MAX_BATCH))
        size *= 2


def measure(
    run: Batch, batch: int, seconds: float, between: Callable[[], None] | None = None
) -> Sample:
    """Run whole batches until `seconds` of wall time have passed; at least one batch."""
    iterations = 0
    timed = 0.0
    deadline = perf_counter() + seconds
    while True:
        if between is not None:
            between()
        start = perf_counter()
        run(batch)
        end = perf_counter()
        timed += end - start
        iterations += batch
        if end >= deadline:
            return Sample(iterations, timed)
