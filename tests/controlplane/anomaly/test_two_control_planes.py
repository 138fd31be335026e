"""Two control planes, as two processes, scanning one database: every access-log event is
scanned exactly once between them, and each alert is stored once."""

import itertools
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from controlplane.access_log.models import AccessLogEntry
from controlplane.access_log.records import AccessRecord
from controlplane.anomaly.models import AnomalyAlert, AnomalyScan
from controlplane.container import Container
from controlplane.db import transaction
from tests.controlplane.anomaly.helpers import T0, append, record

REPO = Path(__file__).resolve().parents[3]


def _traffic() -> list[AccessRecord]:
    """Five agents' steady traffic over ninety minutes, and a guessing burst from one address."""
    tokens = [f"acc_{n:020d}" for n in range(5)]
    steady = [
        record(T0 + timedelta(seconds=second), token_accessor=token, client_ip=f"10.0.0.{n}")
        for second in range(0, 5_400, 20)
        for n, token in enumerate(tokens)
    ]
    burst = T0 + timedelta(hours=1, minutes=1)
    guesses = [
        record(
            burst + timedelta(seconds=second),
            status=401,
            decision="deny",
            reason="unauthenticated:unknown",
            client_ip="203.0.113.50",
        )
        for second in range(40)
    ]
    return sorted([*steady, *guesses], key=lambda r: r.ts)


def _start(url: str, home: Path, stop: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own module with fixed arguments
        [
            sys.executable,
            "-m",
            "tests.controlplane.anomaly.scanner_process",
            url,
            str(home),
            str(stop),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
    )


def test_each_event_is_scanned_once_between_two_processes(
    committed_container: Container, tmp_path: Path
) -> None:
    records = _traffic()
    url = committed_container.engine.url.render_as_string(hide_password=False)
    stop = tmp_path / "stop"
    scanners = [_start(url, tmp_path / f"plane-{n}", stop) for n in (1, 2)]
    try:
        # The log grows while both scan it, as it does in production.
        chunk = max(len(records) // 20, 1)
        for start in range(0, len(records), chunk):
            with transaction(committed_container.session_factory) as session:
                append(session, records[start : start + chunk])
            time.sleep(0.05)
    finally:
        stop.touch()
        outputs = [scanner.communicate(timeout=120)[1] for scanner in scanners]
    for scanner, errors in zip(scanners, outputs, strict=True):
        assert scanner.returncode == 0, errors.decode()[-3000:]

    with transaction(committed_container.session_factory, read_only=True) as session:
        last_seq = session.scalar(select(func.max(AccessLogEntry.seq)))
        scans = session.scalars(select(AnomalyScan).order_by(AnomalyScan.after_seq)).all()
        alerts = session.scalars(select(AnomalyAlert)).all()
    assert last_seq == len(records)
    # The committed scans tile 1..last_seq: no gap, no overlap.
    assert scans[0].after_seq == 0
    for before, after in itertools.pairwise(scans):
        assert after.after_seq == before.through_seq, (before.through_seq, after.after_seq)
    assert scans[-1].through_seq == last_seq
    assert sum(scan.events for scan in scans) == len(records)
    assert len(scans) >= len(records) // 100  # batches of at most 100: many races
    keys = [(a.detector, a.entity_type, a.entity, a.window_start) for a in alerts]
    assert len(keys) == len(set(keys))
    assert ("auth_failure_burst", "203.0.113.50") in {(a.detector, a.entity) for a in alerts}
