"""What the policy proxy costs: Gatehouse next to a bare pass-through and the upstream itself.

    .venv/bin/python -m bench.proxy [--duration S] [--rounds N] [--soak S] [--json PATH]
                                    [--database-url postgresql+psycopg://...] [--quick]

Three targets, one run, one load generator (wrk), all on 127.0.0.1, each a process of its own:
- direct:    a raw-ASGI OpenAI stub (`bench.proxy_stub`): JSON answers, SSE streams of N chunks;
- bare:      the least a Python proxy on this stack can do (`bench.proxy_bare`): same uvicorn,
             same aiohttp client settings as Gatehouse, no auth, policy or logging;
- gatehouse: `gatehouse serve` on a fresh GATEHOUSE_HOME (SQLite; with --database-url also a
             PostgreSQL-backed one, in a schema of its own), with a workspace OpenAI key and a
             `proxy:invoke` workspace token created over its API.

Measurements:
- wrk (-t2, -cN, POST bodies from a Lua script, figures from its `done()` hook): non-streamed
  JSON at each concurrency and SSE streams at c16; every round runs every target back to back,
  the order rotating per round, and ratios are taken per round (paired), then their median.
- Time to first byte of SSE streams: a raw asyncio socket client, sequential requests on one
  keep-alive connection per target, in interleaved blocks; the clock stops at the first chunk.
- Open streams: N concurrent SSE streams held open (the stub sends a chunk every second)
  through Gatehouse, then through the bare pass-through; every stream must answer 200, deliver
  its first chunk and keep delivering; RSS (VmRSS) is read before and while all are open.
- Soak (--soak S): Gatehouse at c16 in slices, RSS after each; growth is from the second slice
  (the first warms up) to the last.

Exit status 1 on errors (non-2xx answers, socket errors, streams that fail); missed targets are
printed plainly but do not change the exit status. Exit status 2 when wrk is not installed.
"""

import asyncio
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import httpx

from bench.proxy_clients import TtfbSeries, hold_streams, json_body, stream_body, ttfb_series
from bench.proxy_options import Options, parse_args
from bench.proxy_report import (
    ADDED_LATENCY_AT,
    SOAK_GROWTH_MAX_FRACTION,
    SOAK_GROWTH_MAX_KIB,
    checks,
    error_summary,
    render,
)
from bench.proxy_servers import http_name, loop_name
from bench.proxy_stub import HOLD_MODEL
from bench.proxy_targets import (
    Target,
    raise_open_files_limit,
    rss_kib,
    start_bare,
    start_gatehouse,
    start_stub,
)
from bench.proxy_wrk import WrkResult, run_wrk, write_script, wrk_path, wrk_version
from bench.timing import Summary
from tests.databases import postgres_schema

SSE_CONNECTIONS = 16
TTFB_BLOCK = 25
TTFB_WARMUP = 10

MODEL = "gpt-bench"


@dataclass(frozen=True)
class Case:
    kind: str  # "json" or "sse"
    connections: int

    @property
    def key(self) -> str:
        return f"{self.kind}_c{self.connections}"

    @property
    def label(self) -> str:
        return f"{self.kind} c{self.connections}"


def _summary(values: Sequence[float]) -> dict[str, float] | None:
    return Summary.of(values).as_dict() if values else None


def _percentile(values: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on a sorted copy."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _progress(message: str) -> None:
    print(f"[bench.proxy] {message}", file=sys.stderr, flush=True)


# --- throughput and latency under load (wrk) ------------------------------------------------------


def _scripts(targets: Sequence[Target], directory: Path) -> dict[tuple[str, str], Path]:
    bodies = {"json": json_body(MODEL), "sse": stream_body(MODEL)}
    scripts = {}
    for target in targets:
        headers = {"Content-Type": "application/json", **target.headers}
        for kind, body in bodies.items():
            scripts[target.key, kind] = write_script(
                directory / f"{target.key}-{kind}.lua", body, headers
            )
    return scripts


def measure_load(
    targets: Sequence[Target], cases: Sequence[Case], options: Options, directory: Path
) -> dict[str, dict[str, list[WrkResult]]]:
    """Per case, per target, one wrk result per round. Targets rotate their order per round."""
    scripts = _scripts(targets, directory)
    for target in targets if options.warmup else ():
        for kind in ("json", "sse"):
            _progress(f"warm-up {target.key} {kind} c{SSE_CONNECTIONS} {options.warmup}s")
            run_wrk(target.url, scripts[target.key, kind], SSE_CONNECTIONS, options.warmup)
    results: dict[str, dict[str, list[WrkResult]]] = {
        case.key: {target.key: [] for target in targets} for case in cases
    }
    for round_index in range(options.rounds):
        shift = round_index % len(targets)
        order = [*targets[shift:], *targets[:shift]]
        for case in cases:
            for target in order:
                _progress(
                    f"round {round_index + 1}/{options.rounds} {case.label} {target.key} "
                    f"{options.duration}s"
                )
                result = run_wrk(
                    target.url, scripts[target.key, case.kind], case.connections, options.duration
                )
                results[case.key][target.key].append(result)
    return results


def _paired(
    mine: list[WrkResult], theirs: list[WrkResult], pick: Callable[[WrkResult, WrkResult], float]
) -> dict[str, Any]:
    values = [pick(a, b) for a, b in zip(mine, theirs, strict=True)]
    return {**Summary.of(values).as_dict(), "samples": values}


def load_report(
    targets: Sequence[Target], cases: Sequence[Case], results: dict[str, dict[str, list[WrkResult]]]
) -> list[dict[str, Any]]:
    report = []
    for case in cases:
        by_target = results[case.key]
        entries: dict[str, Any] = {}
        for target in targets:
            runs = by_target[target.key]
            entry: dict[str, Any] = {
                "label": target.label,
                "rps": _summary([r.rps for r in runs]),
                "p50_ms": _summary([r.p50_ms for r in runs]),
                "p99_ms": _summary([r.p99_ms for r in runs]),
                "errors": sum(r.error_count for r in runs),
                "runs": [r.as_dict() for r in runs],
            }
            for other in ("direct", "bare"):
                if target.key == other or (other == "bare" and target.key == "direct"):
                    continue
                theirs = by_target[other]
                entry[f"vs_{other}"] = {
                    "rps_ratio": _paired(runs, theirs, lambda a, b: a.rps / b.rps),
                    "added_p50_ms": _paired(runs, theirs, lambda a, b: a.p50_ms - b.p50_ms),
                    "added_p99_ms": _paired(runs, theirs, lambda a, b: a.p99_ms - b.p99_ms),
                }
            entries[target.key] = entry
        report.append(
            {
                "case": case.key,
                "kind": case.kind,
                "connections": case.connections,
                "targets": entries,
            }
        )
    return report


# --- time to first byte ---------------------------------------------------------------------------


async def _ttfb(targets: Sequence[Target], count: int) -> dict[str, TtfbSeries]:
    series = {target.key: TtfbSeries() for target in targets}
    for target in targets:  # warm-up: connections, caches; not recorded
        await ttfb_series(target.port, target.path, target.headers, TTFB_WARMUP, TtfbSeries())
    blocks = max(1, math.ceil(count / TTFB_BLOCK))
    for block in range(blocks):
        size = min(TTFB_BLOCK, count - block * TTFB_BLOCK)
        shift = block % len(targets)
        for target in [*targets[shift:], *targets[:shift]]:
            await ttfb_series(target.port, target.path, target.headers, size, series[target.key])
    return series


def ttfb_report(targets: Sequence[Target], count: int) -> dict[str, Any]:
    _progress(f"time to first byte: {count} sequential SSE requests per target")
    series = asyncio.run(_ttfb(targets, count))
    report: dict[str, Any] = {"requests": count, "targets": {}}
    direct = series["direct"].ttfb_ms
    for target in targets:
        values = series[target.key]
        entry: dict[str, Any] = {
            "label": target.label,
            "samples": len(values.ttfb_ms),
            "errors": values.errors,
        }
        if values.ttfb_ms:
            entry["p50_ms"] = _percentile(values.ttfb_ms, 0.50)
            entry["p99_ms"] = _percentile(values.ttfb_ms, 0.99)
            if direct and target.key != "direct":
                entry["added_p50_ms"] = entry["p50_ms"] - _percentile(direct, 0.50)
                entry["added_p99_ms"] = entry["p99_ms"] - _percentile(direct, 0.99)
        if values.overhead_ms:
            entry["overhead_header_p50_ms"] = _percentile(values.overhead_ms, 0.50)
        report["targets"][target.key] = entry
    return report


# --- many open streams ----------------------------------------------------------------------------


def streams_report(
    target: Target, count: int, hold_interval: float, after_close_seconds: float
) -> dict[str, Any]:
    _progress(f"{count} open SSE streams through {target.key}")
    settle = max(2.5 * hold_interval, 0.5)
    rss_before = rss_kib(target.service)
    held, rss_open = asyncio.run(
        hold_streams(
            target.port,
            target.path,
            target.headers,
            count,
            HOLD_MODEL,
            settle,
            partial(rss_kib, target.service),
        )
    )
    time.sleep(after_close_seconds)  # the server notices the disconnects, drops what it held
    rss_after = rss_kib(target.service)
    opened = max(held.opened, 1)
    chunks = held.chunks_while_open
    return {
        "label": target.label,
        "requested": count,
        "opened": held.opened,
        "errors": held.errors,
        "error_count": held.error_count + held.stalled,
        "stalled": held.stalled,
        "seconds_to_open_all": held.open_seconds,
        "settle_seconds": settle,
        "chunks_per_stream_while_open": _summary(chunks),
        "rss_kib_before": rss_before,
        "rss_kib_open": rss_open,
        "rss_kib_after_close": rss_after,
        "kib_per_stream": (rss_open - rss_before) / opened,
    }


# --- soak -----------------------------------------------------------------------------------------


def soak_report(target: Target, seconds: int, slice_seconds: int, script: Path) -> dict[str, Any]:
    slices: list[dict[str, Any]] = []
    remaining = seconds
    while remaining > 0:
        length = min(slice_seconds, remaining)
        _progress(f"soak slice {len(slices) + 1}: {target.key} json c16 {length}s")
        result = run_wrk(target.url, script, ADDED_LATENCY_AT, length)
        slices.append(
            {
                "seconds": length,
                "rps": result.rps,
                "p99_ms": result.p99_ms,
                "errors": result.error_count,
                "rss_kib": rss_kib(target.service),
            }
        )
        remaining -= length
    base = slices[1] if len(slices) > 1 else slices[0]
    growth = slices[-1]["rss_kib"] - base["rss_kib"]
    fraction = growth / base["rss_kib"]
    return {
        "label": target.label,
        "seconds": seconds,
        "slice_seconds": slice_seconds,
        "slices": slices,
        "growth_kib": growth,
        "growth_fraction": fraction,
        "growth_from_slice": 2 if len(slices) > 1 else 1,
        "passed": growth <= SOAK_GROWTH_MAX_KIB and fraction <= SOAK_GROWTH_MAX_FRACTION,
        "errors": sum(s["errors"] for s in slices),
    }


# --- the run --------------------------------------------------------------------------------------


def _smoke_check(target: Target) -> None:
    """One answer of each kind through every target before anything is timed."""
    with httpx.Client(timeout=30) as client:
        for body in (json_body(MODEL), stream_body(MODEL)):
            response = client.post(target.url, content=body, headers=target.headers)
            if response.status_code != 200 or not response.content:
                raise RuntimeError(
                    f"{target.key} answered {response.status_code}: {response.text[:500]}"
                )


def _environment() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in ("uvicorn", "httptools", "uvloop", "aiohttp", "starlette", "fastapi"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "wrk": wrk_version(),
        "http": http_name(),
        "loop": loop_name(),
        "packages": versions,
    }


def run_bench(options: Options) -> dict[str, Any]:
    nofile = raise_open_files_limit(max(4096, 3 * options.streams + 1024))
    cases = [Case("json", n) for n in options.concurrency] + [Case("sse", SSE_CONNECTIONS)]
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-proxy-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        logs = directory / "logs"
        logs.mkdir()
        try:
            _progress("starting the stub, the bare pass-through and gatehouse")
            direct, upstream = start_stub(logs, options.chunks, 600.0, options.hold_interval)
            stack.callback(direct.service.stop)
            bare = start_bare(logs, upstream)
            stack.callback(bare.service.stop)
            gatehouse = start_gatehouse(
                "gatehouse", "gatehouse (SQLite)", logs, directory / "home", upstream, None
            )
            stack.callback(gatehouse.service.stop)
            targets = [direct, bare, gatehouse]
            if options.database_url:
                url = stack.enter_context(
                    postgres_schema(options.database_url, prefix="gh_bench_proxy")
                )
                gatehouse_pg = start_gatehouse(
                    "gatehouse_pg",
                    "gatehouse (PostgreSQL)",
                    logs,
                    directory / "home-pg",
                    upstream,
                    url,
                )
                stack.callback(gatehouse_pg.service.stop)
                targets.append(gatehouse_pg)
            for target in targets:
                _smoke_check(target)
            load = measure_load(targets, cases, options, directory)
            ttfb = ttfb_report(targets, options.ttfb_requests)
            streams = {
                target.key: streams_report(
                    target, options.streams, options.hold_interval, options.after_close_seconds
                )
                for target in (gatehouse, bare)
            }
            soak = None
            if options.soak > 0:
                script = write_script(
                    directory / "soak.lua",
                    json_body(MODEL),
                    {"Content-Type": "application/json", **gatehouse.headers},
                )
                soak = soak_report(gatehouse, options.soak, options.soak_slice, script)
            for target in targets:
                if not target.service.alive():
                    raise RuntimeError(f"{target.key} died during the run")
        except Exception:
            for log in sorted(logs.glob("*.err")):
                tail = log.read_text(errors="replace").strip().splitlines()[-20:]
                if tail:
                    print(f"--- {log.name} (last lines) ---", *tail, sep="\n", file=sys.stderr)
            raise
    report: dict[str, Any] = {
        "benchmark": "proxy",
        "environment": _environment(),
        "settings": {
            "duration_seconds": options.duration,
            "warmup_seconds": options.warmup,
            "rounds": options.rounds,
            "concurrency": list(options.concurrency),
            "sse_connections": SSE_CONNECTIONS,
            "sse_chunks": options.chunks,
            "ttfb_requests": options.ttfb_requests,
            "streams": options.streams,
            "stream_chunk_interval_seconds": options.hold_interval,
            "soak_seconds": options.soak,
            "open_files_limit": nofile,
            "postgres": bool(options.database_url),
        },
        "targets": [{"key": t.key, "label": t.label, "path": t.path} for t in targets],
        "load": load_report(targets, cases, load),
        "ttfb": ttfb,
        "streams": streams,
        "soak": soak,
    }
    report["checks"] = checks(report)
    report["errors"] = error_summary(report)
    report["ok"] = not report["errors"]
    return report


# --- entry point ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if wrk_path() is None:
        print(
            "wrk is not installed; the proxy benchmark drives every target with it.\n"
            "Install it (Debian/Ubuntu: apt-get install -y wrk) and run again.",
            file=sys.stderr,
        )
        return 2
    options, json_path = parse_args(argv)
    report = run_bench(options)
    render(report, out)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
