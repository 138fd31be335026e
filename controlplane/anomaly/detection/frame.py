"""The detectors' input: one row per access-log record, with fixed column types.

Both sources end in `normalise`: `frame_from_records` (database rows, `ts` a datetime, with
`seq`; or dicts with `ts` a string) and `load_jsonl` (the export file, with `line`). The frame
has exactly the record's fields (`FIELD_NAMES`), then `seq` or `line` when the source had one:

- `ts`: datetime64[us, UTC];
- text fields: pandas strings, missing as NA;
- `status`, `bytes_in`, `bytes_out`: int64 (missing: 0, the record's default);
- `tokens_in`, `tokens_out`: nullable Int64; `latency_ms` float64 (missing: 0.0); `ttfb_ms`
  float64 (missing: NaN); `streamed`: bool (missing: False).
"""

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from controlplane.access_log.records import FIELD_NAMES

TEXT_COLUMNS = (
    "request_id",
    "token_accessor",
    "workspace_id",
    "agent_id",
    "user_id",
    "client_ip",
    "user_agent",
    "method",
    "upstream",
    "path",
    "model",
    "decision",
    "reason",
    "error",
)
COUNT_COLUMNS = ("status", "bytes_in", "bytes_out")
OPTIONAL_COUNT_COLUMNS = ("tokens_in", "tokens_out")
# Where a row came from, carried into its evidence: the database's seq or the file's line.
POSITION_COLUMNS = ("seq", "line")


def normalise(raw: pd.DataFrame) -> tuple[pd.DataFrame, "np.ndarray[Any, np.dtype[np.bool_]]"]:
    """The typed frame, and a mask of the rows whose `ts` is missing or not a timestamp."""
    columns: dict[str, pd.Series[Any]] = {}
    index = pd.RangeIndex(len(raw))
    for name in FIELD_NAMES:
        column = raw[name].reset_index(drop=True) if name in raw else pd.Series(None, index=index)
        columns[name] = column
    ts = _timestamps(columns["ts"])
    frame = pd.DataFrame(
        {
            "ts": ts,
            **{name: columns[name].astype("str") for name in TEXT_COLUMNS},
            **{name: _counts(columns[name]) for name in COUNT_COLUMNS},
            **{name: _optional_counts(columns[name]) for name in OPTIONAL_COUNT_COLUMNS},
            "latency_ms": pd.to_numeric(columns["latency_ms"]).fillna(0.0).astype("float64"),
            "ttfb_ms": pd.to_numeric(columns["ttfb_ms"]).astype("float64"),
            "streamed": columns["streamed"].fillna(value=False).astype("bool"),
        },
        index=index,
    )[list(FIELD_NAMES)]
    for name in POSITION_COLUMNS:
        if name in raw:
            frame[name] = pd.to_numeric(raw[name].reset_index(drop=True)).astype("int64")
    return frame, ts.isna().to_numpy()


def _timestamps(column: "pd.Series[Any]") -> "pd.Series[pd.Timestamp]":
    if column.empty:
        return pd.Series(pd.to_datetime([], utc=True), dtype="datetime64[us, UTC]")
    # Naive datetimes (SQLite) are UTC, as everything Gatehouse stores.
    parsed = pd.to_datetime(column, utc=True, errors="coerce", format="ISO8601")
    return parsed.dt.as_unit("us")


def _counts(column: "pd.Series[Any]") -> "pd.Series[int]":
    return pd.to_numeric(column).fillna(0).astype("int64")


def _optional_counts(column: "pd.Series[Any]") -> "pd.Series[Any]":
    return pd.to_numeric(column).astype("Int64")


def empty_frame() -> pd.DataFrame:
    frame, _ = normalise(pd.DataFrame({name: [] for name in FIELD_NAMES}))
    return frame


def frame_from_records(records: Iterable[Mapping[Any, Any]]) -> pd.DataFrame:
    """The frame of database rows (`ts` datetime, `seq`) or record dicts (`ts` ISO string).

    Other keys (a row's hash, its entry id) are ignored. A row without a valid `ts` is a
    ValueError: these sources are trusted, unlike a file (see `load_jsonl`).
    """
    rows = list(records)
    present = set(rows[0]) if rows else set()
    names = [*FIELD_NAMES, *(name for name in POSITION_COLUMNS if name in present)]
    raw = pd.DataFrame({name: [row.get(name) for row in rows] for name in names}, dtype=object)
    frame, bad_ts = normalise(raw)
    if bad_ts.any():
        raise ValueError(f"record {int(np.flatnonzero(bad_ts)[0])} has no valid ts")
    return frame


def evidence_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready dicts of a few rows: the record's fields in order (`ts` ISO 8601 UTC, null
    for missing), then `seq` or `line` when the frame has it."""
    names = [*FIELD_NAMES, *(name for name in POSITION_COLUMNS if name in frame)]
    values: dict[str, list[Any]] = {}
    for name in names:
        column = frame[name]
        if name == "ts":
            values[name] = list(column.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        else:
            # object first, so NA becomes None and numpy scalars become Python numbers.
            plain = column.astype(object)
            values[name] = plain.where(column.notna(), None).tolist()
    return [dict(zip(names, row, strict=True)) for row in zip(*values.values(), strict=True)]
