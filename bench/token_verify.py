"""How fast a credential is verified, against the irreducible work of one verification.

    .venv/bin/python -m bench.token_verify [--seconds S] [--rounds N] [--json] [--postgres URL]

Subjects (each on a fresh GATEHOUSE_HOME and SQLite file, built through the real code paths):
- warm:    a scoped workspace token served from the verified-token cache. The cache is made
           fresh with a real `maintenance.poll_epoch()`, then kept fresh between timed batches
           by `cache.observe_epoch(epoch)`, which is what the background poller does every
           250 ms. Those calls run outside the timed region.
- cold:    the same token through a verifier whose cache holds nothing (`token_cache_size=0`,
           never polled), so every verification is one indexed lookup in its own transaction.
- session: a session JWT (EdDSA) through `session_tokens.verify`.
- cold_postgres (with --postgres URL): the cold path against PostgreSQL, in a dedicated schema.

Baseline: `hmac.new(token_key, token, sha256).hexdigest()`, the one step no verification can
skip. Each subject is measured right next to its own baseline measurement, alternating which
goes first, for several rounds; ratios are taken per round, then summarised (median, min, max).

Proof obligations, checked and printed (exit status 1 if any fails):
- the warm path sends zero SQL statements (a `before_cursor_execute` listener on the engine);
- no verification path calls argon2 (`container.passwords` methods and argon2's
  PasswordHasher wrapped with counters);
- both counters are shown to be live: the cold path's statements are seen, and a deliberate
  `container.passwords.verify` call is seen.
"""

import argparse
import hashlib
import hmac
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy

from bench.environment import CLIENT_IP, Environment, environment
from bench.probes import Argon2Counter, SqlCounter
from bench.tables import print_table
from bench.timing import Batch, Sample, Summary, calibrate, measure
from tests.databases import postgres_schema

DEFAULT_SECONDS = 0.75
DEFAULT_ROUNDS = 5
BASELINE_LABEL = "baseline: HMAC-SHA256 hexdigest"
BASELINE_DESCRIPTION = "hmac.new(token_key, token, hashlib.sha256).hexdigest() per iteration"


@dataclass
class Subject:
    key: str
    label: str
    engine_name: str
    run: Batch
    between: Callable[[], None] | None = None
    batch: int = 0
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    iterations: int = 0
    sql_statements: int = 0
    argon2_calls: int = 0
    passwords_calls: int = 0

    def as_dict(self) -> dict[str, Any]:
        ratio = Summary.of(self.ratios)
        return {
            "key": self.key,
            "label": self.label,
            "engine": self.engine_name,
            "rate": Summary.of(self.rates).as_dict(),
            "ratio_to_baseline": ratio.as_dict(),
            "cost_vs_baseline": 1 / ratio.median if ratio.median > 0 else None,
            "samples": self.rates,
            "ratio_samples": self.ratios,
            "batch": self.batch,
            "iterations": self.iterations,
            "sql_statements": self.sql_statements,
            "sql_per_verification": self.sql_statements / self.iterations,
            "argon2_calls": self.argon2_calls,
            "passwords_calls": self.passwords_calls,
        }


# --- subjects ---------------------------------------------------------------------------


def baseline_batch(env: Environment) -> Batch:
    key = env.container.token_key
    token = env.token.encode()
    new = hmac.new
    sha256 = hashlib.sha256

    def run(count: int) -> None:
        for _ in range(count):
            new(key, token, sha256).hexdigest()

    return run


def warm_subject(env: Environment) -> Subject:
    container = env.container
    verifier = container.verifier
    container.maintenance.poll_epoch()  # a real poll: the cache now trusts itself
    epoch = env.read_epoch()
    grant = verifier.verify(env.token, CLIENT_IP)  # the one miss that fills the cache
    if grant.accessor != env.token_accessor or verifier.cache.size != 1:
        raise RuntimeError("the warm path did not cache the benchmark token")
    verify, raw = verifier.verify, env.token

    def run(count: int) -> None:
        for _ in range(count):
            verify(raw, CLIENT_IP)

    def poller() -> None:
        # What TokenMaintenance does after each successful read of an unchanged epoch.
        verifier.cache.observe_epoch(epoch)

    return Subject(
        key="warm",
        label="scoped token, warm (cached)",
        engine_name=container.engine.dialect.name,
        run=run,
        between=poller,
    )


def cold_subject(env: Environment, key: str, label: str) -> Subject:
    # Same keys and database, a cache that can hold nothing and is never polled (so stale too).
    cold = env.container.rebind(env.container.session_factory, token_cache_size=0)
    verifier = cold.verifier
    if verifier.verify(env.token, CLIENT_IP).accessor != env.token_accessor:
        raise RuntimeError("the cold path did not verify the benchmark token")
    verify, raw = verifier.verify, env.token

    def run(count: int) -> None:
        for _ in range(count):
            verify(raw, CLIENT_IP)

    return Subject(
        key=key,
        label=label,
        engine_name=cold.engine.dialect.name,
        run=run,
    )


def session_subject(env: Environment) -> Subject:
    verify, jwt = env.container.session_tokens.verify, env.session_jwt
    if verify(jwt).user_id != env.user_id:
        raise RuntimeError("the session JWT did not verify")

    def run(count: int) -> None:
        for _ in range(count):
            verify(jwt)

    return Subject(
        key="session",
        label="session JWT (EdDSA)",
        engine_name="none",
        run=run,
    )


# --- measuring --------------------------------------------------------------------------


def _measure_subject(
    subject: Subject, seconds: float, sql: SqlCounter, argon2: Argon2Counter
) -> Sample:
    sql_before, argon2_before, passwords_before = (
        sql.count,
        argon2.argon2_calls,
        argon2.passwords_calls,
    )
    sample = measure(subject.run, subject.batch, seconds, subject.between)
    subject.iterations += sample.iterations
    subject.sql_statements += sql.count - sql_before
    subject.argon2_calls += argon2.argon2_calls - argon2_before
    subject.passwords_calls += argon2.passwords_calls - passwords_before
    return sample


@dataclass
class Proof:
    name: str
    passed: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


def _proofs(subjects: Sequence[Subject], control: tuple[int, int]) -> list[Proof]:
    by_key = {subject.key: subject for subject in subjects}
    warm = by_key["warm"]
    proofs = [
        Proof(
            "warm path sends no SQL",
            warm.sql_statements == 0,
            f"{warm.sql_statements} statements over {warm.iterations:,} warm verifications",
        ),
        Proof(
            "warm path calls no argon2",
            warm.argon2_calls == 0 and warm.passwords_calls == 0,
            f"argon2 {warm.argon2_calls}, container.passwords {warm.passwords_calls} calls "
            f"over {warm.iterations:,} warm verifications",
        ),
    ]
    others = [subject for subject in subjects if subject.key != "warm"]
    proofs.append(
        Proof(
            "no other verification path calls argon2",
            all(s.argon2_calls == 0 and s.passwords_calls == 0 for s in others),
            ", ".join(f"{s.key}: {s.argon2_calls + s.passwords_calls}" for s in others),
        )
    )
    for subject in subjects:
        if subject.key.startswith("cold"):
            per = subject.sql_statements / subject.iterations
            proofs.append(
                Proof(
                    f"SQL counter is live ({subject.key} path is seen)",
                    per >= 1,
                    f"{per:.2f} statements per verification on {subject.engine_name}",
                )
            )
    passwords_calls, argon2_calls = control
    proofs.append(
        Proof(
            "argon2 counter is live (a deliberate passwords.verify is seen)",
            passwords_calls == 1 and argon2_calls >= 1,
            f"container.passwords {passwords_calls}, argon2 {argon2_calls} calls",
        )
    )
    return proofs


def run_bench(seconds: float, rounds: int, postgres_url: str | None = None) -> dict[str, Any]:
    batch_target = min(0.02, max(seconds / 10, 0.0005))
    progress = sys.stderr.isatty()
    with tempfile.TemporaryDirectory(prefix="gatehouse-bench-") as tmp, ExitStack() as stack:
        env = stack.enter_context(environment(Path(tmp) / "home"))
        environments = [env]
        subjects = [
            warm_subject(env),
            cold_subject(env, "cold", "scoped token, cold (SQLite)"),
            session_subject(env),
        ]
        if postgres_url:
            pg_url = stack.enter_context(postgres_schema(postgres_url, prefix="gh_bench"))
            pg_env = stack.enter_context(environment(Path(tmp) / "pg-home", pg_url))
            environments.append(pg_env)
            subjects.append(
                cold_subject(pg_env, "cold_postgres", "scoped token, cold (PostgreSQL)")
            )
        baseline = baseline_batch(env)
        sql, argon2 = SqlCounter(), Argon2Counter()
        engines = [e.container.engine for e in environments]
        with (
            sql.watching(engines),
            argon2.watching([e.container for e in environments]),
        ):
            baseline_size = calibrate(baseline, batch_target)
            for subject in subjects:
                subject.batch = calibrate(subject.run, batch_target, subject.between)
            baseline_rates: list[float] = []
            for round_index in range(rounds):
                if progress:
                    print(f"round {round_index + 1}/{rounds}", file=sys.stderr)
                for subject in subjects:
                    # Adjacent pair, alternating order, so drift and noise hit both sides.
                    if round_index % 2 == 0:
                        base = measure(baseline, baseline_size, seconds)
                        sample = _measure_subject(subject, seconds, sql, argon2)
                    else:
                        sample = _measure_subject(subject, seconds, sql, argon2)
                        base = measure(baseline, baseline_size, seconds)
                    baseline_rates.append(base.rate)
                    subject.rates.append(sample.rate)
                    subject.ratios.append(sample.rate / base.rate)
            before = (argon2.passwords_calls, argon2.argon2_calls)
            env.container.passwords.verify(None, "deliberate call: proves the counter is live")
            control = (argon2.passwords_calls - before[0], argon2.argon2_calls - before[1])
        proofs = _proofs(subjects, control)
        settings = env.container.settings
        return {
            "benchmark": "token_verify",
            "environment": {
                "python": platform.python_version(),
                "implementation": platform.python_implementation(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "sqlalchemy": sqlalchemy.__version__,
            },
            "settings": {
                "seconds_per_measurement": seconds,
                "rounds": rounds,
                "client_ip": CLIENT_IP,
                "token_cache_staleness_seconds": settings.token_cache_staleness_seconds,
                "revocation_poll_seconds": settings.revocation_poll_seconds,
            },
            "baseline": {
                "label": BASELINE_LABEL,
                "description": BASELINE_DESCRIPTION,
                "rate": Summary.of(baseline_rates).as_dict(),
                "samples": baseline_rates,
                "batch": baseline_size,
            },
            "results": [subject.as_dict() for subject in subjects],
            "proofs": [proof.as_dict() for proof in proofs],
            "ok": all(proof.passed for proof in proofs),
        }


# --- output -----------------------------------------------------------------------------


def _rate(summary: dict[str, float]) -> str:
    return f"{summary['median']:,.0f} [{summary['min']:,.0f} - {summary['max']:,.0f}]"


def _ratio(summary: dict[str, float]) -> str:
    return f"{summary['median']:.3g} [{summary['min']:.3g} - {summary['max']:.3g}]"


def _per(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value else "0"


def render_table(report: dict[str, Any], out: TextIO) -> None:
    env, settings = report["environment"], report["settings"]
    header = (
        "subject",
        "verifications/s  median [min - max]",
        "rate / baseline",
        "cost",
        "SQL/verify",
        "argon2",
    )
    rows = [
        (
            report["baseline"]["label"],
            _rate(report["baseline"]["rate"]),
            "1",
            "1x",
            "-",
            "-",
        )
    ]
    for result in report["results"]:
        cost = result["cost_vs_baseline"]
        rows.append(
            (
                result["label"],
                _rate(result["rate"]),
                _ratio(result["ratio_to_baseline"]),
                f"{cost:,.1f}x" if cost is not None else "-",
                _per(result["sql_per_verification"]),
                str(result["argon2_calls"] + result["passwords_calls"]),
            )
        )
    print("Gatehouse token verification benchmark", file=out)
    print(
        f"Python {env['python']} ({env['implementation']}), SQLAlchemy {env['sqlalchemy']}, "
        f"{env['platform']}, {env['cpus']} CPUs",
        file=out,
    )
    print(
        f"{settings['rounds']} rounds x {settings['seconds_per_measurement']} s per measurement; "
        "each subject paired with its own baseline measurement",
        file=out,
    )
    print(f"baseline = {report['baseline']['description']}", file=out)
    print("cost = how many baseline verifications fit in one (median)", file=out)
    print(file=out)
    print_table(header, rows, out)
    print("Proof obligations", file=out)
    for proof in report["proofs"]:
        mark = "PASS" if proof["passed"] else "FAIL"
        print(f"  [{mark}] {proof['name']}: {proof['detail']}", file=out)
    print(file=out)
    print("all proof obligations hold" if report["ok"] else "PROOF OBLIGATIONS FAILED", file=out)


# --- entry point ------------------------------------------------------------------------


def _positive(kind: type[float] | type[int]) -> Callable[[str], float | int]:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return value

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.token_verify",
        description="Token and session verification throughput against an HMAC baseline.",
    )
    parser.add_argument(
        "--seconds",
        type=_positive(float),
        default=DEFAULT_SECONDS,
        help=f"time per measurement (default {DEFAULT_SECONDS}); the run takes about "
        "rounds x subjects x 2 x seconds",
    )
    parser.add_argument(
        "--rounds",
        type=_positive(int),
        default=DEFAULT_ROUNDS,
        help=f"rounds per subject (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON report instead")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also measure the cold path on PostgreSQL, in a temporary schema of this database "
        "(e.g. postgresql://postgres@127.0.0.1:5432/test)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    options = parse_args(argv)
    out = out or sys.stdout
    report = run_bench(options.seconds, options.rounds, options.postgres)
    if options.json:
        json.dump(report, out, indent=2)
        print(file=out)
    else:
        render_table(report, out)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
