"""What the detectors remember between scans, and its JSON form.

Everything learned comes from *closed* windows: windows older than the newest `open_windows`
(by the newest event seen). The events of the open windows are carried raw (`open_events`) and
judged again, with the next scan's events, so a burst that straddles two scans is one window
with its full count. The learned state, all of it bounded:

- `tokens`: per token, its authenticated requests, first and last use, and its requests per
  hour of the week (48 bins: weekday and weekend hours, UTC);
- `history`: per token, its newest `history_windows` active windows (requests, distinct IPs and
  user agents, bytes and tokens out): the baseline of the windowed detectors;
- `networks` / `models`: per token the networks it was used from, per agent (or token) the
  models and upstreams it used, the newest `max_known_items` of each, with when last seen;
- `agents`: per agent (or token) its allowed requests and last use.

A token or agent idle for `idle_days` is dropped from every table.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from controlplane.access_log.records import FIELD_NAMES
from controlplane.anomaly.detection.config import DetectionConfig
from controlplane.anomaly.detection.events import HOURS_OF_WEEK
from controlplane.anomaly.detection.frame import (
    POSITION_COLUMNS,
    empty_frame,
    evidence_rows,
    normalise,
)

VERSION = 1
HOURS = [f"h{index}" for index in range(HOURS_OF_WEEK)]
TABLES: dict[str, tuple[str, ...]] = {
    "tokens": ("token", "events", "first_seen", "last_seen", *HOURS),
    "history": ("token", "window", "requests", "ips", "uas", "bytes_out", "tokens_out"),
    "networks": ("entity", "item", "last_seen"),
    "agents": ("entity", "events", "last_seen"),
    "models": ("entity", "item", "last_seen"),
}
_TEXT = {"token", "entity", "item"}


def empty_table(name: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            column: pd.Series([], dtype="str" if column in _TEXT else "int64")
            for column in TABLES[name]
        }
    )


@dataclass(frozen=True)
class Baselines:
    # The settings the state was learned under; another window size or network prefix makes
    # it meaningless, and `scan` then starts over from empty.
    window_seconds: int | None
    ipv4_prefix: int | None
    ipv6_prefix: int | None
    watermark_us: int | None  # the newest event seen, microseconds since the epoch (UTC)
    tables: dict[str, pd.DataFrame]  # see TABLES; times are epoch microseconds
    open_events: pd.DataFrame  # the raw events of the open windows, in the frame's schema

    @classmethod
    def empty(cls) -> "Baselines":
        return cls(
            window_seconds=None,
            ipv4_prefix=None,
            ipv6_prefix=None,
            watermark_us=None,
            tables={name: empty_table(name) for name in TABLES},
            open_events=empty_frame(),
        )

    def fits(self, config: DetectionConfig) -> bool:
        """Learned under these settings (or nothing learned yet)."""
        learned = (self.window_seconds, self.ipv4_prefix, self.ipv6_prefix)
        wanted = (config.window_seconds, config.ipv4_prefix, config.ipv6_prefix)
        return self.watermark_us is None or learned == wanted

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable: tables as columns of plain lists, carried events as records."""
        return {
            "version": VERSION,
            "window_seconds": self.window_seconds,
            "ipv4_prefix": self.ipv4_prefix,
            "ipv6_prefix": self.ipv6_prefix,
            "watermark_us": self.watermark_us,
            "tables": {name: _columns(frame) for name, frame in self.tables.items()},
            "open_events": evidence_rows(self.open_events),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Baselines":
        if data.get("version") != VERSION:
            raise ValueError(f"baselines version {data.get('version')!r} is not {VERSION}")
        try:
            tables = {name: _table(name, data["tables"][name]) for name in TABLES}
            raw = pd.DataFrame(list(data["open_events"]), columns=_event_columns(data))
            open_events, bad_ts = normalise(raw)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"baselines are malformed: {error}") from error
        if bad_ts.any():
            raise ValueError("baselines are malformed: a carried event has no valid ts")
        return cls(
            window_seconds=_optional_int(data.get("window_seconds")),
            ipv4_prefix=_optional_int(data.get("ipv4_prefix")),
            ipv6_prefix=_optional_int(data.get("ipv6_prefix")),
            watermark_us=_optional_int(data.get("watermark_us")),
            tables=tables,
            open_events=open_events,
        )


def _columns(frame: pd.DataFrame) -> dict[str, Any]:
    """Each column as a list; text columns as {"values", "codes"}, since a token's accessor
    repeats on each of its hundreds of history rows."""
    columns: dict[str, Any] = {}
    for name in frame.columns:
        if name in _TEXT:
            codes, values = pd.factorize(frame[name])
            columns[str(name)] = {"values": list(values), "codes": codes.tolist()}
        else:
            columns[str(name)] = frame[name].tolist()
    return columns


def _table(name: str, columns: Mapping[str, Any]) -> pd.DataFrame:
    table = empty_table(name)
    data = {}
    for column in TABLES[name]:
        stored = columns[column]
        if column in _TEXT:
            stored = np.asarray(stored["values"], dtype=object)[stored["codes"]]
        data[column] = pd.Series(stored, dtype=table[column].dtype)
    return pd.DataFrame(data)


def _event_columns(data: Mapping[str, Any]) -> list[str]:
    events = data["open_events"]
    present = [name for name in POSITION_COLUMNS if events and name in events[0]]
    return [*FIELD_NAMES, *present]


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"baselines are malformed: {value!r} is not an integer")  # noqa: TRY004 - callers handle one error type for malformed baselines
    return int(value)
