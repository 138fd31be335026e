"""One control plane's anomaly scanner in a process of its own, for the exactly-once test.

`python -m tests.controlplane.anomaly.scanner_process DATABASE_URL HOME STOP_FILE`: scans the
backlog again and again, as the scheduled job does, until STOP_FILE exists, then once more.
"""

import sys
import time
from pathlib import Path

from controlplane.anomaly import scanning
from controlplane.config import Settings
from controlplane.container import Container
from controlplane.db import make_engine


def main() -> None:
    url, home, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    settings = Settings(  # type: ignore[call-arg] - pydantic-settings init kwargs
        _env_file=None,
        home=home,
        sentry_dsn=None,
        runtime_managed=False,
        # Small batches: many scans, so the two processes race for many of them.
        anomaly_batch_events=100,
    )
    engine = make_engine(url)
    container = Container.build(settings, engine=engine)
    try:
        while not stop.exists():
            scanning.scan_backlog(container)
            time.sleep(0.005)
        scanning.scan_backlog(container)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
