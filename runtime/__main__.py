"""`python -m runtime --host H --port P --workers N`: the command the control plane's
supervisor launches (and `gatehouse runtime serve` for a runtime of its own)."""

import argparse
from collections.abc import Sequence

from controlplane.config import get_settings
from runtime.server import serve


def main(argv: Sequence[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(
        prog="python -m runtime", description="Serve the Gatehouse streaming runtime."
    )
    parser.add_argument("--host", default=settings.runtime_host, help="bind address")
    parser.add_argument("--port", type=int, default=settings.runtime_port, help="port")
    parser.add_argument(
        "--workers", type=int, default=settings.runtime_workers, help="worker processes"
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    serve(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
