"""What the proxy and the runtime add to a run: TTFT and events/s, against the local provider.

    .venv/bin/python -m bench.runtime [--runs N] [--words W] [--rounds R] [--json]

Two modes, measured in one run, on one machine, the same way (`bench.runtime_runs`):
- in-process:      N concurrent runs of the local provider's event generator, the one the
                   runtime's engine iterates for provider "local", in this process;
- proxy + runtime: N concurrent streaming runs of the demo agent (local provider) through
                   `gatehouse serve` (SQLite, fresh home) and the runtime it supervises, all on
                   127.0.0.1: client -> `/proxy/runtime/v1/runs` -> runtime -> SSE back.

Every run asks for `/long W`: W text deltas. The local provider is unpaced (0 ms between
deltas), so the figures are the machinery's, not a simulated model's. Before each measured
batch, an unmeasured one of the same size warms up caches, pools and connections (through the
proxy, a few single runs go first). Rounds alternate the order of the modes; each figure is
the median of its per-round values, and the added TTFT and the throughput ratio are paired per
round (proxy + runtime minus / over in-process of the same round), then their median.

Exit status 1 when a run fails (non-200, error event, a finish other than `stop`, missing
deltas); a missed target is printed plainly but does not change the exit status.
"""

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from bench import runtime_runs, runtime_server
from bench.proxy_servers import loop_name
from bench.proxy_targets import raise_open_files_limit
from bench.runtime_report import MODES, render
from runtime.upstream import UpstreamClient

TARGET_ADDED_P50_MS = 5.0
SEQUENTIAL_WARMUP = 3


def _progress(message: str) -> None:
    print(f"[bench.runtime] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.runtime", description=__doc__)
    parser.add_argument("--runs", type=int, default=100, help="concurrent runs per batch")
    parser.add_argument("--words", type=int, default=200, help="text deltas per run (/long W)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both modes")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    options = parser.parse_args(argv)
    for name in ("runs", "words", "rounds"):
        if getattr(options, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return options


# --- the rounds ---------------------------------------------------------------------------


async def _in_process(upstream: UpstreamClient, runs: int, words: int) -> dict[str, Any]:
    warmup = await runtime_runs.in_process(upstream, runs, words)
    measured = await runtime_runs.in_process(upstream, runs, words)
    return {**measured.stats(), "warmup_errors": warmup.stats()["errors"]}


async def _proxy_runtime(
    deployment: runtime_server.Deployment, runs: int, words: int
) -> dict[str, Any]:
    url, token, agent = deployment.runs_url, deployment.token, runtime_server.DEMO_AGENT
    async with runtime_runs.session() as http:
        warmup_errors = 0
        for _ in range(SEQUENTIAL_WARMUP):
            single = await runtime_runs.over_http(http, url, token, agent, 1, words)
            warmup_errors += single.stats()["errors"]
        warmup = await runtime_runs.over_http(http, url, token, agent, runs, words)
        warmup_errors += warmup.stats()["errors"]
        measured = await runtime_runs.over_http(http, url, token, agent, runs, words)
    stats = {**measured.stats(), "warmup_errors": warmup_errors}
    inside = deployment.runtime_ttft_ms([tally.run_id for tally in measured.tallies])
    for p in (0.50, 0.95, 0.99):
        stats[f"runtime_ttft_p{round(p * 100)}_ms"] = (
            runtime_runs.percentile(inside, p) if inside else None
        )
    return stats


def _difference(
    a: dict[str, Any], b: dict[str, Any], key: str, op: Callable[[float, float], float]
) -> float | None:
    return None if a.get(key) is None or b.get(key) is None else op(b[key], a[key])


async def _rounds(
    deployment: runtime_server.Deployment, upstream: UpstreamClient, options: argparse.Namespace
) -> list[dict[str, Any]]:
    modes: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = {
        "in_process": lambda: _in_process(upstream, options.runs, options.words),
        "proxy_runtime": lambda: _proxy_runtime(deployment, options.runs, options.words),
    }
    rounds = []
    for index in range(options.rounds):
        order = list(modes) if index % 2 == 0 else list(reversed(modes))
        results: dict[str, Any] = {"round": index + 1, "order": order}
        for mode in order:
            _progress(f"round {index + 1}/{options.rounds}: {mode}, {options.runs} runs")
            results[mode] = await modes[mode]()
        a, b = results["in_process"], results["proxy_runtime"]
        for p in ("p50", "p95"):
            key = f"ttft_{p}_ms"
            results[f"added_ttft_{p}_ms"] = _difference(a, b, key, lambda x, y: x - y)
        results["throughput_ratio"] = _difference(a, b, "events_per_second", lambda x, y: x / y)
        rounds.append(results)
    return rounds


def _median(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    modes = {}
    for mode in MODES:
        per_round = [r[mode] for r in rounds]
        figures: dict[str, Any] = {
            key: _median([r[key] for r in per_round])
            for key in per_round[0]
            if key.endswith(("_ms", "_seconds", "_per_second", "_per_run"))
        }
        figures["errors"] = sum(r["errors"] + r["warmup_errors"] for r in per_round)
        figures["error_samples"] = sorted({s for r in per_round for s in r["error_samples"]})
        modes[mode] = figures
    added_p50 = _median([r["added_ttft_p50_ms"] for r in rounds])
    return {
        "modes": modes,
        "added_ttft_p50_ms": added_p50,
        "added_ttft_p95_ms": _median([r["added_ttft_p95_ms"] for r in rounds]),
        "throughput_ratio": _median([r["throughput_ratio"] for r in rounds]),
        "target": {
            "added_ttft_p50_ms_max": TARGET_ADDED_P50_MS,
            "met": None if added_p50 is None else added_p50 <= TARGET_ADDED_P50_MS,
        },
    }


def _environment(status: dict[str, object]) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in ("aiohttp", "uvicorn", "uvloop", "httptools"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loop": loop_name(),
        "runtime_workers": status.get("workers"),
        "packages": versions,
    }


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if loop_name() != "uvloop":
        return None
    import uvloop  # noqa: PLC0415 - only where installed, as uvicorn picks it

    return uvloop.new_event_loop


def run_bench(options: argparse.Namespace) -> dict[str, Any]:
    raise_open_files_limit(max(4096, 4 * options.runs + 1024))
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-runtime-") as tmp:
        directory = Path(tmp)
        logs = directory / "logs"
        logs.mkdir()
        _progress("starting gatehouse serve and its runtime")
        try:
            deployment, status = runtime_server.start(directory / "home", logs)
            try:
                upstream = runtime_runs.bench_upstream(directory / "in-process")
                with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                    rounds = runner.run(_rounds(deployment, upstream, options))
                    runner.run(upstream.aclose())
                if not deployment.server.alive():
                    raise RuntimeError("gatehouse serve died during the run")
            finally:
                deployment.server.stop()
        except Exception:
            for log in sorted(logs.glob("*.err")):
                tail = log.read_text(errors="replace").strip().splitlines()[-20:]
                if tail:
                    print(f"--- {log.name} (last lines) ---", *tail, sep="\n", file=sys.stderr)
            raise
    summary = _summary(rounds)
    errors = sum(mode["errors"] for mode in summary["modes"].values())
    return {
        "benchmark": "runtime",
        "settings": {
            "runs": options.runs,
            "words": options.words,
            "prompt": runtime_runs.prompt(options.words),
            "rounds": options.rounds,
            "pacing_ms": 0,
            "client": "aiohttp, one kept-alive connection per concurrent run",
        },
        "environment": _environment(status),
        **summary,
        "rounds": rounds,
        "errors": errors,
        "ok": errors == 0,
    }


# --- entry point ---------------------------------------------------------------------------


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
