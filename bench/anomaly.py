"""Anomaly detection: an exported access log loaded and scanned, and the minute-by-minute scan.

    .venv/bin/python -m bench.anomaly [--events N] [--incremental M] [--naive K] [--seed S]
                                      [--agents A] [--repeat R] [--json]

The data is the labelled synthetic generator's (`controlplane.anomaly.synthetic`): seven days,
A agents (default 120), rates scaled so that N + M events come out, attacks included. In one
run, on one machine:

- full scan: the first N events (default 1,000,000) written as the access log's JSONL export,
  then `load_jsonl` and `scan` from empty baselines, timed apart and together;
- incremental scan: the next M events (default 10,000) scanned against the baselines the full
  scan returned, as the database job does every minute; their JSON form (read before, written
  after, as the job stores them) is timed apart;
- memory: a fresh process loads and scans the same file (`bench.anomaly_memory`): its peak
  resident size, its size after imports, and the peaks of Python/numpy and Arrow allocations;
- naive baseline: the same detectors as a per-row Python loop (`bench.anomaly_naive`) on about
  K of the events (default 100,000: all events of the attacked tokens and agents and of callers
  without a token, then whole further tokens; see `_naive_subset`), against the vectorised load
  and scan of the same events, both timed in this run; ratios per event. Both must find the
  same alerts (keys and evidence counts).

Each time is the median of R runs (default 3; the naive loop runs once). Targets: the full load
and scan within 10 s, the incremental scan within 1 s. Exit status 1 when a target is missed or
the naive and vectorised alerts differ.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from bench import anomaly_naive
from bench.anomaly_report import render
from controlplane.access_log.records import iso
from controlplane.anomaly import synthetic
from controlplane.anomaly.detection import Alert, Baselines, DetectionConfig, load_jsonl, scan
from controlplane.anomaly.evaluation import evaluate

TARGET_FULL_SECONDS = 10.0
TARGET_INCREMENTAL_SECONDS = 1.0
DAYS = 7


def _progress(message: str) -> None:
    print(f"[bench.anomaly] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.anomaly", description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the file")
    parser.add_argument("--incremental", type=int, default=10_000, help="new events after it")
    parser.add_argument("--naive", type=int, default=100_000, help="events for the naive loop")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--agents", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed step")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    options = parser.parse_args(argv)
    for name in ("events", "incremental", "naive", "agents", "repeat"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return options


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = step()
    return time.perf_counter() - started, value


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def _data(options: argparse.Namespace, directory: Path) -> dict[str, Any]:
    wanted = options.events + options.incremental
    _progress(f"generating about {wanted:,} events ({DAYS} days, {options.agents} agents)")
    # A little more than wanted: the generator's count is only about its target.
    dataset = synthetic.generate(
        options.seed, days=DAYS, agents=options.agents, events=int(wanted * 1.05)
    )
    events = dataset.events.iloc[:wanted]
    full, incremental = events.iloc[: options.events], events.iloc[options.events :]
    path, subset = directory / "events.jsonl", directory / "subset.jsonl"
    _progress(f"writing {len(full):,} events as JSONL")
    synthetic.write_events(full, path)
    synthetic.write_events(_naive_subset(full, dataset.labels, options.naive), subset)
    return {
        "path": path,
        "subset": subset,
        "full": full,
        "incremental": incremental.reset_index(drop=True),
        "labels": dataset.labels,
    }


def _naive_subset(full: pd.DataFrame, labels: dict[str, Any], limit: int) -> pd.DataFrame:
    """About `limit` events for the naive loop, spanning the whole week: every event of the
    attacked tokens and agents and of callers without a token, then every event of further
    tokens (in order of first use) while they fit. The first `limit` events would hold no
    alert at all: tokens have no baseline in their first day."""
    if limit >= len(full):
        return full
    token, agent = full["token_accessor"], full["agent_id"]
    attacked = {attack["entity"] for attack in labels["attacks"]}
    chosen = token.isna() | token.isin(attacked) | agent.isin(attacked)
    sizes = token[~chosen].value_counts(sort=False)
    room = limit - int(chosen.sum())
    fitting = sizes.index[(sizes.cumsum() <= room).to_numpy()]
    chosen |= token.isin(fitting)
    return full[chosen].iloc[:limit]


def _full_scan(path: Path, repeat: int) -> tuple[dict[str, Any], list[Alert], Baselines]:
    loads, scans, cpus = [], [], []
    alerts: list[Alert] = []
    baselines = Baselines.empty()
    for run in range(repeat):
        _progress(f"full scan {run + 1}/{repeat}")
        # CPU time (all threads) beside the wall time: on a shared machine the wall time also
        # counts the time other processes held the CPUs.
        cpu = time.process_time()
        load_seconds, loaded = _timed(partial(load_jsonl, path))
        scan_seconds, result = _timed(
            partial(scan, loaded.frame, Baselines.empty(), DetectionConfig())
        )
        cpus.append(time.process_time() - cpu)
        loads.append(load_seconds)
        scans.append(scan_seconds)
        alerts, baselines = result.alerts, result.baselines
    totals = [load + scanned for load, scanned in zip(loads, scans, strict=True)]
    figures = {
        "load_seconds": _median(loads),
        "scan_seconds": _median(scans),
        "total_seconds": _median(totals),
        "cpu_seconds": _median(cpus),
        "runs": [
            {"load": round(a, 3), "scan": round(b, 3), "cpu": round(c, 3)}
            for a, b, c in zip(loads, scans, cpus, strict=True)
        ],
        "malformed_lines": len(loaded.malformed),
        "events": loaded.events,
        "file_bytes": path.stat().st_size,
    }
    return figures, alerts, baselines


def _incremental(baselines: Baselines, events: pd.DataFrame, repeat: int) -> dict[str, Any]:
    stored = _stored(baselines)
    reads, scans, writes = [], [], []
    alerts = 0
    for run in range(repeat):
        _progress(f"incremental scan {run + 1}/{repeat}")
        read_seconds, state = _timed(lambda: Baselines.from_json(json.loads(stored)))
        scan_seconds, result = _timed(partial(scan, events, state, DetectionConfig()))
        write_seconds, _ = _timed(partial(_stored, result.baselines))
        reads.append(read_seconds)
        scans.append(scan_seconds)
        writes.append(write_seconds)
        alerts = len(result.alerts)
    return {
        "events": len(events),
        "scan_seconds": _median(scans),
        "baselines_from_json_seconds": _median(reads),
        "baselines_to_json_seconds": _median(writes),
        "baselines_bytes": len(stored),
        "alerts": alerts,
    }


def _stored(baselines: Baselines) -> str:
    return json.dumps(baselines.to_json())


def _memory(path: Path) -> dict[str, Any]:
    _progress("memory: a fresh process loads and scans the file")
    done = subprocess.run(  # noqa: S603 - our own module with a path we wrote
        [sys.executable, "-m", "bench.anomaly_memory", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def _naive(subset: Path, full_seconds_per_event: float) -> dict[str, Any]:
    config = DetectionConfig()
    _progress("naive per-row loop")
    parse_seconds, records = _timed(lambda: list(anomaly_naive.read(subset)))
    detect_seconds, found = _timed(lambda: anomaly_naive.detect(records, config))
    load_seconds, loaded = _timed(partial(load_jsonl, subset))
    scan_seconds, result = _timed(partial(scan, loaded.frame, Baselines.empty(), config))
    vectorised = {
        anomaly_naive.key_of(a.detector, a.entity_type.value, a.entity, a.window_start): (
            a.evidence_count
        )
        for a in result.alerts
    }
    naive_seconds, vector_seconds = parse_seconds + detect_seconds, load_seconds + scan_seconds
    per_event = naive_seconds / max(len(records), 1)
    return {
        "events": len(records),
        "parse_seconds": round(parse_seconds, 3),
        "detect_seconds": round(detect_seconds, 3),
        "seconds": round(naive_seconds, 3),
        "vectorised_load_seconds": round(load_seconds, 3),
        "vectorised_scan_seconds": round(scan_seconds, 3),
        "vectorised_seconds": round(vector_seconds, 3),
        "speedup_same_events": round(naive_seconds / vector_seconds, 1),
        "speedup_parse": round(parse_seconds / load_seconds, 1),
        "speedup_detect": round(detect_seconds / scan_seconds, 1),
        "speedup_per_event_vs_full": round(per_event / full_seconds_per_event, 1),
        "alerts": len(found),
        "identical": found == vectorised,
        "only_naive": sorted(str(key) for key in found.keys() - vectorised.keys()),
        "only_vectorised": sorted(str(key) for key in vectorised.keys() - found.keys()),
        "different_counts": sorted(
            str(key) for key in found.keys() & vectorised.keys() if found[key] != vectorised[key]
        ),
    }


def _quality(alerts: list[Alert], labels: dict[str, Any], full: pd.DataFrame) -> dict[str, Any]:
    """Alerts by detector, and precision and recall against the labels inside the file."""
    end = iso(full["ts"].iloc[-1].to_pydatetime())
    inside = [attack for attack in labels["attacks"] if attack["window_end"] <= end]
    result = evaluate(alerts, {"attacks": inside})
    return {
        "alerts": len(alerts),
        "by_detector": dict(sorted(Counter(alert.detector for alert in alerts).items())),
        "labels": len(inside),
        "precision": result.overall.precision,
        "recall": result.overall.recall,
        "missed": result.missed,
    }


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "packages": {name: metadata.version(name) for name in ("pandas", "numpy", "pyarrow")},
    }


def run_bench(options: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-anomaly-") as tmp:
        data = _data(options, Path(tmp))
        full, alerts, baselines = _full_scan(data["path"], options.repeat)
        incremental = _incremental(baselines, data["incremental"], options.repeat)
        memory = _memory(data["path"])
        naive = _naive(data["subset"], full["total_seconds"] / max(full["events"], 1))
    met = (
        full["total_seconds"] <= TARGET_FULL_SECONDS
        and incremental["scan_seconds"] <= TARGET_INCREMENTAL_SECONDS
    )
    return {
        "benchmark": "anomaly",
        "settings": {
            "events": options.events,
            "incremental": options.incremental,
            "naive": options.naive,
            "seed": options.seed,
            "agents": options.agents,
            "days": DAYS,
            "repeat": options.repeat,
        },
        "environment": {
            **_environment(),
            # Other processes competing for the CPUs, before and after the run (1-minute).
            "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "full": full,
        "incremental": incremental,
        "memory": memory,
        "naive": naive,
        "quality": _quality(alerts, data["labels"], data["full"]),
        "targets": {
            "full_seconds": TARGET_FULL_SECONDS,
            "incremental_seconds": TARGET_INCREMENTAL_SECONDS,
            "met": met,
        },
        "ok": met and naive["identical"],
    }


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    options = parse_args(argv)
    report = run_bench(options)
    if options.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        render(report, out)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
