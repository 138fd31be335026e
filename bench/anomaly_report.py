"""The anomaly benchmark's report as plain-text tables (`bench.tables.print_table`)."""

from typing import Any, TextIO

from bench.tables import print_table


def _rate(events: int, seconds: float) -> str:
    return f"{events / seconds:,.0f}" if seconds > 0 else "-"


def _met(seconds: float, target: float) -> str:
    return f"<= {target:g} s: " + ("met" if seconds <= target else "MISSED")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _counts(by_detector: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in by_detector.items())


def render(report: dict[str, Any], out: TextIO) -> None:
    settings, env = report["settings"], report["environment"]
    full, incremental, naive = report["full"], report["incremental"], report["naive"]
    memory, targets, quality = report["memory"], report["targets"], report["quality"]
    events = full["events"]
    packages = ", ".join(f"{name} {version}" for name, version in env["packages"].items())
    print(
        f"Anomaly detection on {events:,} synthetic events ({full['file_bytes'] / 1e6:,.0f} MB "
        f"of JSONL; {settings['days']} days, {settings['agents']} agents, seed "
        f"{settings['seed']}), {env['cpus']} CPUs, Python {env['python']}, {packages}.",
        f"Times are medians of {settings['repeat']} run(s); the naive loop ran once. System "
        f"load average {env['load_average'][0]:g} before and {env['load_average'][1]:g} after "
        "the run (other processes competing for the CPUs).",
        "",
        sep="\n",
        file=out,
    )
    rows = [
        [
            "load (load_jsonl)",
            f"{full['load_seconds']:.2f}",
            _rate(events, full["load_seconds"]),
            "",
        ],
        [
            "scan (11 detectors)",
            f"{full['scan_seconds']:.2f}",
            _rate(events, full["scan_seconds"]),
            "",
        ],
        [
            "load + scan",
            f"{full['total_seconds']:.2f}",
            _rate(events, full["total_seconds"]),
            _met(full["total_seconds"], targets["full_seconds"]),
        ],
        ["  CPU time of load + scan (all threads)", f"{full['cpu_seconds']:.2f}", "", ""],
        [
            f"incremental scan of {incremental['events']:,} new events",
            f"{incremental['scan_seconds']:.3f}",
            _rate(incremental["events"], incremental["scan_seconds"]),
            _met(incremental["scan_seconds"], targets["incremental_seconds"]),
        ],
        [
            f"  baselines from JSON ({incremental['baselines_bytes'] / 1e6:.1f} MB)",
            f"{incremental['baselines_from_json_seconds']:.3f}",
            "",
            "",
        ],
        ["  baselines to JSON", f"{incremental['baselines_to_json_seconds']:.3f}", "", ""],
        [
            f"naive per-row loop, {naive['events']:,} events",
            f"{naive['seconds']:.2f}",
            _rate(naive["events"], naive["seconds"]),
            f"parse {naive['parse_seconds']:.2f} s + detect {naive['detect_seconds']:.2f} s",
        ],
        [
            f"vectorised, the same {naive['events']:,} events",
            f"{naive['vectorised_seconds']:.2f}",
            _rate(naive["events"], naive["vectorised_seconds"]),
            f"load {naive['vectorised_load_seconds']:.2f} s + scan "
            f"{naive['vectorised_scan_seconds']:.2f} s",
        ],
    ]
    print_table(["step", "seconds", "events/s", "target"], rows, out)
    print(
        f"Speed-up over the naive loop: {naive['speedup_per_event_vs_full']:g}x per event "
        f"(full vectorised run vs naive run); on the same {naive['events']:,} events "
        f"{naive['speedup_same_events']:g}x, of which parsing {naive['speedup_parse']:g}x and "
        f"detection {naive['speedup_detect']:g}x.",
        f"Naive and vectorised alerts ({naive['alerts']}): "
        + ("identical (keys and evidence counts)." if naive["identical"] else "DIFFERENT:"),
        sep="\n",
        file=out,
    )
    for side in ("only_naive", "only_vectorised", "different_counts"):
        for key in naive[side]:
            print(f"  {side}: {key}", file=out)
    print(
        f"Memory (fresh process, load + scan): peak RSS {memory['rss_peak_mb']:,.0f} MB "
        f"({memory['rss_after_imports_mb']:,.0f} MB after imports); peak Python/numpy "
        f"allocations {memory['tracemalloc_peak_mb']:,.0f} MB; Arrow pool peak "
        f"{memory['arrow_pool_peak_mb']:,.0f} MB.",
        f"Alerts: {quality['alerts']} ({_counts(quality['by_detector'])}); "
        f"against the {quality['labels']} labels in the file: precision "
        f"{_share(quality['precision'])}, recall {_share(quality['recall'])}.",
        "Targets: " + ("met." if targets["met"] else "MISSED."),
        sep="\n",
        file=out,
    )
