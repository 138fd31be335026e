"""The anomaly benchmark's memory figures: a fresh process loads and scans one export file.

    .venv/bin/python -m bench.anomaly_memory EVENTS.jsonl

Prints one JSON object: the process's resident size after its imports and at its peak
(VmHWM: ru_maxrss would carry the parent's size across fork and exec), the peak of Python and
numpy allocations during the load and scan (tracemalloc), and the peak of Arrow's memory pool
(the JSON reader's buffers, which tracemalloc cannot see). Linux only.
"""

import json
import sys
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information

from controlplane.anomaly.detection import Baselines, DetectionConfig, load_jsonl, scan

MB = 1_000_000


def _status_mb(field: str) -> float:
    """A size from /proc/self/status (VmRSS: now, VmHWM: the peak so far), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) * 1024 / MB
    raise RuntimeError(f"no {field} in /proc/self/status")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print("usage: python -m bench.anomaly_memory EVENTS.jsonl", file=sys.stderr)
        return 2
    before = _status_mb("VmRSS")
    tracemalloc.start()
    loaded = load_jsonl(Path(arguments[0]))
    result = scan(loaded.frame, Baselines.empty(), DetectionConfig())
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    figures = {
        "events": loaded.events,
        "alerts": len(result.alerts),
        "rss_after_imports_mb": round(before, 1),
        "rss_peak_mb": round(_status_mb("VmHWM"), 1),
        "tracemalloc_peak_mb": round(traced_peak / MB, 1),
        "arrow_pool_peak_mb": round(pa.default_memory_pool().max_memory() / MB, 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
