"""The anomaly benchmark end to end with tiny numbers: every figure is reported, and the naive
per-row loop finds exactly the vectorised detectors' alerts. No timing is asserted: machines
vary."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TINY = ["--events", "20000", "--incremental", "1000", "--repeat", "1", "--json"]


def test_tiny_run_reports_every_figure() -> None:
    done = subprocess.run(  # noqa: S603 - our own module with fixed arguments
        [sys.executable, "-m", "bench.anomaly", *TINY],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report: dict[str, Any] = json.loads(done.stdout)

    assert report["benchmark"] == "anomaly"
    settings = report["settings"]
    assert (settings["events"], settings["incremental"], settings["days"]) == (20000, 1000, 7)
    full = report["full"]
    assert full["events"] == 20000
    assert full["malformed_lines"] == 0
    assert full["total_seconds"] > 0
    assert full["load_seconds"] + full["scan_seconds"] > 0
    assert full["cpu_seconds"] > 0
    assert len(report["environment"]["load_average"]) == 2
    incremental = report["incremental"]
    assert incremental["events"] == 1000
    assert incremental["scan_seconds"] > 0
    assert incremental["baselines_bytes"] > 0
    memory = report["memory"]
    assert memory["events"] == 20000
    assert memory["rss_peak_mb"] >= memory["rss_after_imports_mb"] > 0
    naive = report["naive"]
    assert naive["events"] == 20000
    assert naive["identical"] is True, naive
    assert naive["seconds"] > 0
    assert naive["vectorised_seconds"] > 0
    # The naive loop ran on all 20,000 events, as the full scan did.
    assert report["quality"]["alerts"] == naive["alerts"] > 0
    assert set(report["targets"]) == {"full_seconds", "incremental_seconds", "met"}
    # A missed speed target is exit 1, and so is a disagreement; anything else is not.
    assert done.returncode == (0 if report["ok"] else 1), done.stderr[-3000:]
