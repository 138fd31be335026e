"""The proxy benchmark's command line: its defaults, and the options a run takes."""

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DURATION = 10
DEFAULT_WARMUP = 3
DEFAULT_ROUNDS = 3
DEFAULT_CONCURRENCY = (1, 16, 64)
DEFAULT_CHUNKS = 20
DEFAULT_TTFB_REQUESTS = 200
DEFAULT_STREAMS = 1000
DEFAULT_SOAK_SLICE = 60


@dataclass(frozen=True)
class Options:
    duration: int
    warmup: int
    rounds: int
    concurrency: tuple[int, ...]
    chunks: int
    ttfb_requests: int
    streams: int
    hold_interval: float
    after_close_seconds: float
    soak: int
    soak_slice: int
    database_url: str | None


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _concurrency(text: str) -> tuple[int, ...]:
    values = tuple(_positive_int(part) for part in text.split(","))
    if not values:
        raise argparse.ArgumentTypeError("give at least one concurrency")
    return values


def parse_args(argv: Sequence[str] | None) -> tuple[Options, Path | None]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.proxy",
        description="Gatehouse's policy proxy against a bare pass-through and the upstream stub.",
    )
    parser.add_argument(
        "--duration", type=_positive_int, default=DEFAULT_DURATION, help="seconds per wrk run"
    )
    parser.add_argument(
        "--warmup", type=_non_negative_int, default=DEFAULT_WARMUP, help="seconds; 0 skips"
    )
    parser.add_argument("--rounds", type=_positive_int, default=DEFAULT_ROUNDS)
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        help="wrk connections for the JSON runs, comma-separated (default 1,16,64)",
    )
    parser.add_argument("--chunks", type=_positive_int, default=DEFAULT_CHUNKS)
    parser.add_argument("--ttfb-requests", type=_positive_int, default=DEFAULT_TTFB_REQUESTS)
    parser.add_argument("--streams", type=_positive_int, default=DEFAULT_STREAMS)
    parser.add_argument(
        "--soak",
        type=_non_negative_int,
        default=0,
        metavar="SECONDS",
        help="soak duration; 0 skips (default)",
    )
    parser.add_argument("--soak-slice", type=_positive_int, default=DEFAULT_SOAK_SLICE)
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="also run a PostgreSQL-backed Gatehouse, in a temporary schema of this database "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the report here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: 1 round, no warm-up, JSON at c16 only, 20 TTFB requests, "
        "streams chunking every 0.2 s",
    )
    args = parser.parse_args(argv)
    options = Options(
        duration=args.duration,
        warmup=0 if args.quick else args.warmup,
        rounds=1 if args.quick else args.rounds,
        concurrency=(16,) if args.quick else args.concurrency,
        chunks=args.chunks,
        ttfb_requests=20 if args.quick else args.ttfb_requests,
        streams=args.streams,
        hold_interval=0.2 if args.quick else 1.0,
        after_close_seconds=0.5 if args.quick else 2.0,
        soak=args.soak,
        soak_slice=args.soak_slice,
        database_url=args.database_url,
    )
    return options, args.json
