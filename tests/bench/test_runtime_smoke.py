"""The runtime benchmark runs end to end with tiny numbers. No timing is asserted: machines vary.

It starts `gatehouse serve` and its supervised runtime, in a subprocess of its own, as
`make bench-runtime` does.
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import runtime_runs

REPO = Path(__file__).resolve().parents[2]
TINY = ["--runs", "5", "--words", "10", "--rounds", "1", "--json"]
MODES = ("in_process", "proxy_runtime")


@pytest.mark.slow
def test_tiny_run_reports_every_figure_and_no_errors() -> None:
    done = subprocess.run(  # noqa: S603 - our own module with fixed arguments
        [sys.executable, "-m", "bench.runtime", *TINY],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)

    assert report["benchmark"] == "runtime"
    assert report["ok"] is True
    assert report["errors"] == 0
    settings = report["settings"]
    assert (settings["runs"], settings["words"], settings["rounds"]) == (5, 10, 1)
    assert len(report["rounds"]) == 1
    for mode in MODES:
        figures = report["modes"][mode]
        assert figures["errors"] == 0
        assert figures["error_samples"] == []
        for p in ("p50", "p95", "p99"):
            assert figures[f"ttft_{p}_ms"] is not None
        assert figures["events_per_second"] > 0
        measured = report["rounds"][0][mode]
        assert measured["runs"] == 5
        assert measured["errors"] == measured["warmup_errors"] == 0
    # Ten deltas plus text.start, text.end, usage and run.finish; the runtime adds run.start.
    assert report["modes"]["in_process"]["events_per_run"] == 14
    assert report["modes"]["proxy_runtime"]["events_per_run"] == 15
    assert report["modes"]["proxy_runtime"]["runtime_ttft_p50_ms"] is not None
    for key in ("added_ttft_p50_ms", "added_ttft_p95_ms", "throughput_ratio"):
        assert isinstance(report[key], float)
    assert report["target"]["met"] in (True, False)


def test_a_run_that_misses_deltas_or_its_finish_counts_as_an_error() -> None:
    tally = runtime_runs.Tally(started=0.0, words=2)
    for kind in ("text.start", "text.delta", "text.end", "run.finish"):
        tally.event(kind)
    tally.content()
    tally.finish_reason = "stop"
    assert tally.failure() == "1 text deltas for 2 words"
    tally.event("text.delta")
    assert tally.failure() is None
    tally.finish_reason = "error"
    assert tally.failure() == "finish error"
