"""Secret scanning: `gatehouse audit secrets` against `detect-secrets scan`, on one corpus.

    .venv/bin/python -m bench.audit_secrets [--files N] [--corpus DIR] [--repeat R] [--json]

The corpus (`bench.audit_corpus`) is this repository's tracked files plus a generated tree of
N files (default 20,000) with planted secrets and five large files. In one run, on one machine:

- detect-secrets, run from the corpus root as
  `detect-secrets scan --all-files -n --plugin audits/secrets/gatehouse_plugin.py .`, in its
  default configuration, which is also its fastest: one process per CPU (`--cores` unset), no
  network verification (`-n`), our plugin loaded so both tools know the same secret types;
- gatehouse, empty cache: `gatehouse audit secrets CORPUS --json` with a fresh cache directory;
- gatehouse, warm cache: the same command again, over the unchanged tree.

Both are timed as whole commands (interpreter start included). The set of (file, hashed
secret, type) must be identical between detect-secrets and each gatehouse run; a difference is
printed and fails the run. With `--repeat`, each figure is the median of its repeats. Targets:
the full scan at least 1.5x and the rescan at least 10x as fast as detect-secrets; exit status
1 when a target is missed or the findings differ.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

from bench import audit_corpus
from bench.tables import print_table

TARGET_FULL = 1.5
TARGET_RESCAN = 10.0
PLUGIN = audit_corpus.REPO / "audits" / "secrets" / "gatehouse_plugin.py"
BIN = Path(sys.executable).parent
Key = tuple[str, str, str]  # (file, hashed secret, type)


def _progress(message: str) -> None:
    print(f"[bench.audit_secrets] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_secrets", description=__doc__)
    parser.add_argument("--files", type=int, default=20_000, help="generated files")
    parser.add_argument("--large", type=int, default=5, help="large files (at most 5)")
    parser.add_argument("--large-bytes", type=int, default=audit_corpus.LARGE_FILE_BYTES)
    parser.add_argument("--seed", type=int, default=1729)
    parser.add_argument("--no-repository", action="store_true", help="no copy of this repo")
    parser.add_argument("--corpus", type=Path, help="build here, or reuse it if not empty")
    parser.add_argument("--repeat", type=int, default=1, help="measure each tool R times")
    parser.add_argument("--jobs", type=int, help="gatehouse worker processes (default: CPUs)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    options = parser.parse_args(argv)
    if options.files < 1 or options.repeat < 1:
        parser.error("--files and --repeat must be at least 1")
    return options


def detect_secrets(corpus: Path) -> tuple[float, set[Key]]:
    command = [str(BIN / "detect-secrets"), "scan", "--all-files", "-n", "--plugin", str(PLUGIN)]
    started = time.perf_counter()
    done = subprocess.run([*command, "."], cwd=corpus, capture_output=True, text=True, check=True)  # noqa: S603 - our own tools
    seconds = time.perf_counter() - started
    results = json.loads(done.stdout)["results"]
    found = {(name, e["hashed_secret"], e["type"]) for name, es in results.items() for e in es}
    return seconds, found


def gatehouse_command() -> list[str]:
    return [str(BIN / "gatehouse"), "audit", "secrets"]


def gatehouse(
    command: list[str], corpus: Path, cache: Path, jobs: int | None
) -> tuple[float, set[Key], dict[str, Any]]:
    arguments = [str(corpus), "--json", "--cache-dir", str(cache)]
    arguments += ["--jobs", str(jobs)] if jobs else []
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own tool
        [*command, *arguments], cwd=audit_corpus.REPO, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    report = json.loads(done.stdout)
    found = {(f["path"], f["secret_hash"], f["rule"]) for f in report["findings"]}
    return seconds, found, report["stats"]


def differences(expected: set[Key], actual: set[Key]) -> dict[str, list[list[str]]]:
    return {
        "only_detect_secrets": [list(key) for key in sorted(expected - actual)],
        "only_gatehouse": [list(key) for key in sorted(actual - expected)],
    }


def _corpus(options: argparse.Namespace, scratch: Path) -> tuple[Path, dict[str, Any]]:
    """Build the corpus, or reuse a non-empty directory; its description is kept beside it."""
    root = options.corpus or scratch / "corpus"
    manifest = root.with_name(f"{root.name}.manifest.json")
    if root.is_dir() and any(root.iterdir()):
        _progress(f"reusing the corpus in {root}")
        files = sum(len(names) for _, _, names in os.walk(root))
        known = json.loads(manifest.read_text()) if manifest.is_file() else {}
        return root, {**known, "root": str(root), "files": files, "reused": True}
    _progress(f"building the corpus in {root}")
    corpus = audit_corpus.build(
        root,
        files=options.files,
        large=options.large,
        large_bytes=options.large_bytes,
        seed=options.seed,
        repo=None if options.no_repository else audit_corpus.REPO,
    )
    described = {
        "root": str(root),
        "files": corpus.files,
        "copied": corpus.copied,
        "generated": corpus.generated,
        "large": corpus.large,
        "large_bytes": options.large_bytes,
        "seed": options.seed,
        "planted": dict(sorted(corpus.planted.items())),
    }
    manifest.write_text(json.dumps(described, indent=2))
    return root, described


def run_bench(options: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        scratch = Path(tmp)
        corpus, described = _corpus(options, scratch)
        command = gatehouse_command()
        times: dict[str, list[float]] = {"detect_secrets": [], "cold": [], "warm": []}
        mismatches: dict[str, Any] = {}
        stats: dict[str, Any] = {}
        findings = 0
        for round_number in range(options.repeat):
            _progress(f"round {round_number + 1}: detect-secrets")
            seconds, expected = detect_secrets(corpus)
            times["detect_secrets"].append(seconds)
            cache = scratch / f"cache-{round_number}"
            for run in ("cold", "warm"):
                _progress(f"round {round_number + 1}: gatehouse, {run} cache")
                seconds, actual, stats[run] = gatehouse(command, corpus, cache, options.jobs)
                times[run].append(seconds)
                if actual != expected:
                    mismatches[f"{run} (round {round_number + 1})"] = differences(expected, actual)
            findings = len(expected)
    medians = {name: statistics.median(values) for name, values in times.items()}
    full = medians["detect_secrets"] / medians["cold"]
    rescan = medians["detect_secrets"] / medians["warm"]
    return {
        "benchmark": "audit_secrets",
        "corpus": described,
        "environment": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "detect_secrets": metadata.version("detect-secrets"),
            "detect_secrets_mode": "--all-files -n, --cores unset (one process per CPU)",
            "gatehouse_command": " ".join(Path(part).name for part in command),
        },
        "seconds": {name: round(value, 3) for name, value in medians.items()},
        "all_seconds": {name: [round(v, 3) for v in values] for name, values in times.items()},
        "speedup": {"full": round(full, 2), "rescan": round(rescan, 2)},
        "targets": {
            "full": TARGET_FULL,
            "rescan": TARGET_RESCAN,
            "met": full >= TARGET_FULL and rescan >= TARGET_RESCAN,
        },
        "findings": findings,
        "identical": not mismatches,
        "mismatches": mismatches,
        "gatehouse_stats": stats,
    }


def render(report: dict[str, Any], out: TextIO) -> None:
    corpus, env, seconds = report["corpus"], report["environment"], report["seconds"]
    files = corpus["files"]
    print(
        f"Secret scan of {files} files ({corpus.get('copied', '?')} from this repository, "
        f"{corpus.get('generated', '?')} generated, {corpus.get('large', '?')} large), "
        f"{env['cpus']} CPUs, median of {len(report['all_seconds']['cold'])} run(s).",
        f"detect-secrets {env['detect_secrets']}: {env['detect_secrets_mode']}. "
        f"gatehouse: {env['gatehouse_command']}.",
        "",
        sep="\n",
        file=out,
    )
    rows = [
        ["detect-secrets", seconds["detect_secrets"], 1.0],
        ["gatehouse, empty cache", seconds["cold"], report["speedup"]["full"]],
        ["gatehouse, warm cache (rescan)", seconds["warm"], report["speedup"]["rescan"]],
    ]
    print_table(
        ["run", "seconds", "files/s", "speed-up"],
        [[name, f"{s:.2f}", f"{files / s:,.0f}", f"{ratio:.2f}x"] for name, s, ratio in rows],
        out,
    )
    targets = report["targets"]
    print(
        f"Targets: full scan >= {targets['full']}x, rescan >= {targets['rescan']}x: "
        + ("met." if targets["met"] else "MISSED."),
        f"Findings: {report['findings']} (file, hashed secret, type); "
        + ("identical in every run." if report["identical"] else "DIFFERENT:"),
        sep="\n",
        file=out,
    )
    for run, diff in report["mismatches"].items():
        for side, keys in diff.items():
            for key in keys:
                print(f"  {run}: {side}: {' | '.join(key)}", file=out)
    for run, stats in report["gatehouse_stats"].items():
        print(
            f"gatehouse {run}: scanned {stats['files_scanned']}, cached {stats['files_cached']}, "
            f"skipped {stats['files_skipped']}, timed out {len(stats['timed_out'])}",
            file=out,
        )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    options = parse_args(argv)
    report = run_bench(options)
    if options.json:
        print(json.dumps(report, indent=2), file=out)
    else:
        render(report, out)
    return 0 if report["identical"] and report["targets"]["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
