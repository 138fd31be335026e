"""Hand-built access-log rows for the detector tests: a few tokens, on fixed times."""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from controlplane.anomaly.detection import frame_from_records

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # midnight, a Monday
NOON = MONDAY + timedelta(hours=12)
WINDOW = timedelta(minutes=5)
TOKEN = "acc_" + "T" * 20
OTHER_TOKEN = "acc_" + "U" * 20
WORKSPACE = "ws_" + "w" * 26
AGENT = "agt_" + "a" * 26
HOME_IP = "10.1.1.5"


def row(ts: datetime, **fields: Any) -> dict[str, Any]:
    """One allowed chat request of TOKEN (AGENT, WORKSPACE) from HOME_IP, unless overridden."""
    values: dict[str, Any] = {
        "ts": ts,
        "request_id": f"req_{ts.timestamp():.6f}",
        "token_accessor": TOKEN,
        "workspace_id": WORKSPACE,
        "agent_id": AGENT,
        "user_id": "usr_" + "u" * 26,
        "client_ip": HOME_IP,
        "user_agent": "openai-python/1.60.2",
        "method": "POST",
        "upstream": "openai",
        "path": "/proxy/openai/v1/chat/completions",
        "model": "gpt-4o",
        "status": 200,
        "decision": "allow",
        "reason": None,
        "latency_ms": 420.5,
        "ttfb_ms": 80.25,
        "bytes_in": 1800,
        "bytes_out": 3000,
        "tokens_in": 450,
        "tokens_out": 600,
        "streamed": False,
        "error": None,
    }
    values.update(fields)
    return values


def burst(start: datetime, count: int, **fields: Any) -> list[dict[str, Any]]:
    """`count` rows spread over the first four minutes of the window at `start`."""
    step = timedelta(minutes=4) / max(count, 1)
    return [row(start + step * index, **fields) for index in range(count)]


def windows(start: datetime, count: int, per_window: int, **fields: Any) -> list[dict[str, Any]]:
    """`per_window` rows in each of `count` consecutive windows from `start`."""
    return [
        r for index in range(count) for r in burst(start + WINDOW * index, per_window, **fields)
    ]


def refused(start: datetime, count: int, status: int = 401, **fields: Any) -> list[dict[str, Any]]:
    """`count` refused requests (401 with no credential, unless overridden)."""
    values: dict[str, Any] = {
        "token_accessor": None,
        "workspace_id": None,
        "agent_id": None,
        "user_id": None,
        "status": status,
        "decision": "deny",
        "reason": "unauthenticated:unknown" if status == 401 else "scope_missing",
        "model": None,
        "tokens_in": None,
        "tokens_out": None,
        **fields,
    }
    return burst(start, count, **values)


def frame(*groups: Iterable[dict[str, Any]]) -> pd.DataFrame:
    return frame_from_records([r for group in groups for r in group])
