"""The runtime benchmark's report as plain-text tables (`bench.tables.print_table`)."""

from typing import Any, TextIO

from bench.tables import print_table

MODES = {"in_process": "in-process (local provider)", "proxy_runtime": "proxy + runtime"}
PERCENTILES = ("p50", "p95", "p99")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _modes(report: dict[str, Any], out: TextIO) -> None:
    header = ["mode", *(f"TTFT {p} ms" for p in PERCENTILES), "events/s", "events/run", "errors"]
    rows = []
    for key, label in MODES.items():
        mode = report["modes"][key]
        rows.append(
            [
                label,
                *(_ms(mode[f"ttft_{p}_ms"]) for p in PERCENTILES),
                _count(mode["events_per_second"]),
                _count(mode["events_per_run"]),
                str(mode["errors"]),
            ]
        )
    inside = report["modes"]["proxy_runtime"]
    rows.append(
        [
            "  of which inside the runtime",
            *(_ms(inside.get(f"runtime_ttft_{p}_ms")) for p in PERCENTILES),
            "",
            "",
            "",
        ]
    )
    print_table(header, rows, out)


def render(report: dict[str, Any], out: TextIO) -> None:
    settings, env = report["settings"], report["environment"]
    print(
        f"Runtime: {settings['runs']} concurrent runs of {settings['prompt']!r} "
        f"({settings['words']} text deltas each), local provider unpaced, "
        f"{settings['rounds']} round(s); figures are medians of the per-round values.",
        f"Client: {settings['client']}. Loop: {env['loop']}. Runtime workers: "
        f"{env['runtime_workers']}. {env['cpus']} CPUs shared by the client, the control plane "
        "and the runtime.",
        "",
        sep="\n",
        file=out,
    )
    _modes(report, out)
    header = ["round", "order", "added TTFT p50 ms", "added TTFT p95 ms", "throughput ratio"]
    rows = [
        [
            str(r["round"]),
            " then ".join(r["order"]),
            _ms(r["added_ttft_p50_ms"]),
            _ms(r["added_ttft_p95_ms"]),
            _ratio(r["throughput_ratio"]),
        ]
        for r in report["rounds"]
    ]
    print_table(header, rows, out)
    target = report["target"]
    met = target["met"]
    verdict = "no figure" if met is None else ("met" if met else "MISSED")
    rows = [
        ["added TTFT p50 (proxy + runtime - in-process)", _ms(report["added_ttft_p50_ms"]) + " ms"],
        ["added TTFT p95", _ms(report["added_ttft_p95_ms"]) + " ms"],
        ["throughput ratio (proxy + runtime / in-process)", _ratio(report["throughput_ratio"])],
        [f"target: added TTFT p50 <= {target['added_ttft_p50_ms_max']:g} ms", verdict],
    ]
    print_table(["summary", "value"], rows, out)
    launch = [_ms(report["modes"][key]["ttft_from_launch_p50_ms"]) for key in MODES]
    print(
        "TTFT is counted from each run's own start. Counted from the launch of the whole batch "
        f"instead, p50: in-process {launch[0]} ms, proxy + runtime {launch[1]} ms.",
        file=out,
    )
    samples = [s for mode in report["modes"].values() for s in mode["error_samples"]]
    print("errors: " + ("; ".join(samples) if samples else "no errors"), file=out)
