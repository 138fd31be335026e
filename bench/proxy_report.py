"""The proxy benchmark's verdicts and its printed report: each target met or not, and the
tables. Kept apart from the measuring (`bench.proxy`), which only produces the report dict."""

from collections.abc import Sequence
from typing import Any, TextIO

from bench.tables import print_table

# The targets the proxy is held to (README, "Benchmarks").
THROUGHPUT_RATIO_AT = 64
THROUGHPUT_RATIO_MIN = 0.70
ADDED_LATENCY_AT = 16
ADDED_P50_MAX_MS = 2.0
ADDED_P99_MAX_MS = 10.0
ADDED_TTFB_P50_MAX_MS = 2.0
SOAK_GROWTH_MAX_FRACTION = 0.10
SOAK_GROWTH_MAX_KIB = 20 * 1024


# --- verdicts -------------------------------------------------------------------------------------


def _load_entry(report: dict[str, Any], case: str, target: str) -> dict[str, Any] | None:
    for entry in report["load"]:
        if entry["case"] == case:
            found: dict[str, Any] | None = entry["targets"].get(target)
            return found
    return None


def checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target figure: met or not (None when it was not measured in this run)."""
    found: list[dict[str, Any]] = []

    def add(
        name: str, value: float | None, limit: float, higher_is_better: bool, text: str
    ) -> None:
        met = None if value is None else (value >= limit if higher_is_better else value <= limit)
        found.append(
            {
                "name": name,
                "value": value,
                "limit": limit,
                "met": met,
                "detail": text,
                "missed_word": "MISSED",
            }
        )

    gatehouses = [t["key"] for t in report["targets"] if t["key"].startswith("gatehouse")]
    for key in gatehouses:
        label = next(t["label"] for t in report["targets"] if t["key"] == key)
        entry = _load_entry(report, f"json_c{THROUGHPUT_RATIO_AT}", key)
        ratio = entry["vs_bare"]["rps_ratio"]["median"] if entry else None
        add(
            f"{label}: throughput at json c{THROUGHPUT_RATIO_AT} >= "
            f"{THROUGHPUT_RATIO_MIN:.2f} x bare pass-through",
            ratio,
            THROUGHPUT_RATIO_MIN,
            True,
            f"{ratio:.2f} x" if ratio is not None else "not measured",
        )
        entry = _load_entry(report, f"json_c{ADDED_LATENCY_AT}", key)
        for field, limit in (
            ("added_p50_ms", ADDED_P50_MAX_MS),
            ("added_p99_ms", ADDED_P99_MAX_MS),
        ):
            added = entry["vs_direct"][field]["median"] if entry else None
            add(
                f"{label}: {field[6:9]} added over direct at json c{ADDED_LATENCY_AT} "
                f"<= {limit:g} ms",
                added,
                limit,
                False,
                f"{added:+.2f} ms" if added is not None else "not measured",
            )
        ttfb = report["ttfb"]["targets"].get(key, {}).get("added_p50_ms")
        add(
            f"{label}: SSE time to first byte, p50 added over direct "
            f"<= {ADDED_TTFB_P50_MAX_MS:g} ms",
            ttfb,
            ADDED_TTFB_P50_MAX_MS,
            False,
            f"{ttfb:+.2f} ms" if ttfb is not None else "not measured",
        )
    streams = report["streams"].get("gatehouse")
    if streams:
        add(
            f"{streams['label']}: {streams['requested']:,} open SSE streams with zero errors",
            streams["error_count"],
            0,
            False,
            f"{streams['opened']:,} opened, {streams['error_count']} errors",
        )
    soak = report["soak"]
    if soak:
        add(
            f"{soak['label']}: soak RSS growth (slice {soak['growth_from_slice']} to last) "
            f"<= {SOAK_GROWTH_MAX_FRACTION:.0%} and <= {SOAK_GROWTH_MAX_KIB // 1024} MiB",
            soak["growth_kib"],
            SOAK_GROWTH_MAX_KIB,
            False,
            f"{soak['growth_kib'] / 1024:+.1f} MiB ({soak['growth_fraction']:+.1%})",
        )
        # Two limits (absolute and relative): the verdict is the soak's own; a leak is a FAIL.
        found[-1]["met"] = soak["passed"]
        found[-1]["missed_word"] = "FAIL"
    return found


def error_summary(report: dict[str, Any]) -> list[str]:
    errors = []
    for entry in report["load"]:
        for key, target in entry["targets"].items():
            if target["errors"]:
                runs = [r["errors"] for r in target["runs"] if r["error_count"]]
                errors.append(f"wrk {entry['case']} {key}: {target['errors']} errors {runs}")
    for key, target in report["ttfb"]["targets"].items():
        if target["errors"]:
            errors.append(f"ttfb {key}: {len(target['errors'])} errors, e.g. {target['errors'][0]}")
    for key, streams in report["streams"].items():
        if streams["error_count"]:
            errors.append(
                f"streams {key}: {streams['error_count']} errors {streams['errors']}"
                f", {streams['stalled']} stalled"
            )
    if report["soak"] and report["soak"]["errors"]:
        errors.append(f"soak: {report['soak']['errors']} wrk errors")
    return errors


# --- output ---------------------------------------------------------------------------------------


def _ratio(summary: dict[str, float] | None) -> str:
    if summary is None:
        return "-"
    return f"{summary['median']:.2f} [{summary['min']:.2f}-{summary['max']:.2f}]"


def _added(summary: dict[str, float] | None) -> str:
    return "-" if summary is None else f"{summary['median']:+.2f}"


def _med(summary: dict[str, float] | None, spec: str) -> str:
    return "-" if summary is None else format(summary["median"], spec)


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.1f}"


def render(report: dict[str, Any], out: TextIO) -> None:
    env, settings = report["environment"], report["settings"]
    packages = env["packages"]
    print("Gatehouse policy proxy benchmark", file=out)
    print(
        f"Python {env['python']}, uvicorn {packages['uvicorn']} ({env['http']}, {env['loop']}), "
        f"aiohttp {packages['aiohttp']}, {env['wrk']}, {env['cpus']} CPUs, {env['platform']}",
        file=out,
    )
    print(
        f"wrk -t2 -cN, {settings['rounds']} rounds x {settings['duration_seconds']} s per run "
        f"(warm-up {settings['warmup_seconds']} s); targets back to back, order rotating per "
        "round; medians over rounds [min-max]; ratios and differences paired per round",
        file=out,
    )
    print(file=out)
    print("Load (wrk): requests/s and latency; +p50/+p99 = added over direct, ms", file=out)
    header: Sequence[str] = (
        *("case", "target", "req/s", "p50 ms", "p99 ms"),
        *("x bare", "x direct", "+p50", "+p99"),
    )
    rows: list[Sequence[str]] = []
    for entry in report["load"]:
        for index, (key, target) in enumerate(entry["targets"].items()):
            vs_direct, vs_bare = target.get("vs_direct"), target.get("vs_bare")
            rows.append(
                (
                    entry["case"].replace("_", " ") if index == 0 else "",
                    target["label"],
                    _med(target["rps"], ",.0f"),
                    _med(target["p50_ms"], ".2f"),
                    _med(target["p99_ms"], ".2f"),
                    _ratio(vs_bare["rps_ratio"]) if vs_bare else "" if key != "bare" else "1",
                    _ratio(vs_direct["rps_ratio"]) if vs_direct else "1",
                    _added(vs_direct["added_p50_ms"]) if vs_direct else "",
                    _added(vs_direct["added_p99_ms"]) if vs_direct else "",
                )
            )
    print_table(header, rows, out)

    ttfb = report["ttfb"]
    print(
        f"SSE time to first byte ({ttfb['requests']} sequential requests per target, "
        f"{settings['sse_chunks']}-chunk streams, keep-alive, interleaved blocks)",
        file=out,
    )
    header = ("target", "p50 ms", "p99 ms", "+p50", "+p99", "overhead hdr p50", "errors")
    rows = []
    for target in ttfb["targets"].values():
        overhead = target.get("overhead_header_p50_ms")
        rows.append(
            (
                target["label"],
                f"{target['p50_ms']:.3f}" if "p50_ms" in target else "-",
                f"{target['p99_ms']:.3f}" if "p99_ms" in target else "-",
                f"{target['added_p50_ms']:+.3f}" if "added_p50_ms" in target else "",
                f"{target['added_p99_ms']:+.3f}" if "added_p99_ms" in target else "",
                f"{overhead:.3f}" if overhead is not None else "",
                str(len(target["errors"])),
            )
        )
    print_table(header, rows, out)

    print(
        f"Open SSE streams (one chunk every {settings['stream_chunk_interval_seconds']:g} s), "
        "RSS of the proxy process",
        file=out,
    )
    header = (
        "target",
        "streams",
        "opened",
        "errors",
        "open in s",
        "RSS before MiB",
        "RSS open MiB",
        "after close MiB",
        "KiB/stream",
    )
    rows = [
        (
            s["label"],
            f"{s['requested']:,}",
            f"{s['opened']:,}",
            str(s["error_count"]),
            f"{s['seconds_to_open_all']:.1f}",
            _mib(s["rss_kib_before"]),
            _mib(s["rss_kib_open"]),
            _mib(s["rss_kib_after_close"]),
            f"{s['kib_per_stream']:.1f}",
        )
        for s in report["streams"].values()
    ]
    print_table(header, rows, out)

    soak = report["soak"]
    if soak:
        print(f"Soak: {soak['label']}, json c16, {soak['slice_seconds']} s slices", file=out)
        header = ("slice", "req/s", "p99 ms", "errors", "RSS MiB")
        rows = [
            (str(i), f"{s['rps']:,.0f}", f"{s['p99_ms']:.2f}", str(s["errors"]), _mib(s["rss_kib"]))
            for i, s in enumerate(soak["slices"], start=1)
        ]
        print_table(header, rows, out)

    print("Targets", file=out)
    for check in report["checks"]:
        mark = {True: "MET", False: check["missed_word"], None: "NOT MEASURED"}[check["met"]]
        print(f"  [{mark}] {check['name']}: {check['detail']}", file=out)
    print(file=out)
    if report["errors"]:
        print("ERRORS", file=out)
        for error in report["errors"]:
            print(f"  {error}", file=out)
    else:
        print(
            "no errors: every request answered 2xx, no socket errors, every stream held", file=out
        )
