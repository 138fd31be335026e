"""off_hours: a token with a stable schedule, active in an hour where it is normally silent.

A token's schedule is its requests per hour of the week, folded to 48 hours: the 24 hours of a
weekday and the 24 of a weekend day (UTC), so a few days of history already describe a week.
Like every baseline here it is causal: each window is judged against the token's requests
before it. A window raises an alert when all of these hold:

- the token has a schedule: at least `off_hours_min_events` earlier requests, and at most
  `off_hours_max_active_hours` of the 48 hours are active (hold at least
  `off_hours_silent_share` of them), so round-the-clock agents never raise it;
- the window's hour is silent (holds less than `off_hours_silent_share` of them), and at least
  `off_hours_min_days` full days of the same kind (weekday or weekend) have passed since the
  token was first seen, so a weekend the token has never lived through is not "silent";
- the window has at least `off_hours_min_requests` requests.
"""

import numpy as np
import pandas as pd

from controlplane.anomaly.detection.alerts import EntityType, Severity
from controlplane.anomaly.detection.baselines import HOURS
from controlplane.anomaly.detection.detectors.findings import (
    Findings,
    from_groups,
    nothing,
    severities,
)
from controlplane.anomaly.detection.detectors.token_windows import TokenWindows
from controlplane.anomaly.detection.events import DAY_US, HOURS_OF_WEEK, Events, hour_of_week
from controlplane.anomaly.detection.grouping import Coded, Ints


def off_hours(events: Events, tables: dict[str, pd.DataFrame], windows: TokenWindows) -> Findings:
    config = events.config
    token = events.coded("token_accessor")
    stats = windows.stats[["token", "token_code", "window", "requests", "first_seen"]].copy()
    stats["start_us"] = events.window_start_us(stats["window"].to_numpy())
    stats["hour"] = hour_of_week(stats["start_us"].to_numpy())
    stored = _Stored(tables["tokens"], token)
    code = stats["token_code"].to_numpy()
    # Windows of a token come in time order (rows are sorted), so running sums are "before".
    earlier = stats.groupby("token_code", sort=False)["requests"].cumsum() - stats["requests"]
    stats["prior_total"] = earlier + stored.events[code]
    in_hour = stats.groupby(["token_code", "hour"], sort=False)["requests"].cumsum()
    stats["prior_hour"] = in_hour - stats["requests"] + stored.hours[code, stats["hour"]]
    silent = stats["prior_hour"] < config.off_hours_silent_share * stats["prior_total"]
    candidates = stats[
        silent
        & (stats["requests"] >= config.off_hours_min_requests)
        & (stats["prior_total"] >= config.off_hours_min_events)
        & (_days_of_kind(stats) >= config.off_hours_min_days)
    ].copy()
    if candidates.empty:
        return nothing("off_hours")
    share = config.off_hours_silent_share
    candidates["active_hours"] = _active_hours(candidates, stats, stored, share)
    fired = candidates[candidates["active_hours"] <= config.off_hours_max_active_hours].copy()
    fired["score"] = fired["requests"].astype("float64")
    medium = (fired["requests"] >= config.off_hours_medium_requests).to_numpy()
    fired["severity"] = severities(Severity.LOW.value, [(medium, Severity.MEDIUM.value)])
    fired["entity_type"] = EntityType.TOKEN.value
    fired["entity"] = fired["token"]
    fired["token_accessor"] = fired["token"]
    fired["explanation"] = [
        f"{name} made {requests:,} requests at {hour % 24:02d}:00-{hour % 24 + 1:02d}:00 UTC "
        f"on a {'weekend day' if hour >= 24 else 'weekday'}, an hour in which it is normally "
        f"silent ({prior_hour:,} of its {prior_total:,} earlier requests); it is active in "
        f"{active} of its 48 weekday and weekend hours."
        for name, requests, hour, prior_hour, prior_total, active in zip(
            fired["token"],
            fired["requests"],
            fired["hour"],
            fired["prior_hour"],
            fired["prior_total"],
            fired["active_hours"],
            strict=True,
        )
    ]
    return from_groups("off_hours", fired, windows.rows, windows.codes)


class _Stored:
    """The stored schedules as arrays indexed by this scan's token codes; the trailing row
    (code -1) and tokens never stored are zeros."""

    def __init__(self, table: pd.DataFrame, token: Coded) -> None:
        size = len(token.values) + 1
        found = token.lookup(table["token"])
        keep = found >= 0
        at = found[keep]
        self.events = np.zeros(size, dtype=np.int64)
        self.events[at] = table["events"].to_numpy(dtype=np.int64)[keep]
        self.hours = np.zeros((size, HOURS_OF_WEEK), dtype=np.int64)
        self.hours[at] = table[HOURS].to_numpy(dtype=np.int64)[keep]


def _days_of_kind(stats: pd.DataFrame) -> Ints:
    """Full days of the window's kind (weekday or weekend) between first use and the window."""
    first = (stats["first_seen"].to_numpy() // DAY_US).astype("datetime64[D]")
    today = (stats["start_us"].to_numpy() // DAY_US).astype("datetime64[D]")
    between = np.maximum((today - first).astype(np.int64) - 1, 0)
    weekdays = np.where(between > 0, np.busday_count(first + 1, np.maximum(today, first + 1)), 0)
    weekend = stats["hour"].to_numpy() >= 24
    return np.asarray(np.where(weekend, between - weekdays, weekdays), dtype=np.int64)


def _active_hours(
    candidates: pd.DataFrame, stats: pd.DataFrame, stored: _Stored, share: float
) -> Ints:
    """For each candidate window, how many of the 48 hours hold at least `share` of the
    token's earlier requests: stored counts plus this scan's windows before it."""
    queries = (
        candidates[["token_code", "window"]]
        .reset_index(names="code")
        .merge(pd.DataFrame({"hour": np.arange(HOURS_OF_WEEK)}), how="cross")
    )
    running = stats[["token_code", "hour", "window"]].assign(
        count=stats.groupby(["token_code", "hour"], sort=False)["requests"].cumsum()
    )
    before = pd.merge_asof(
        queries.sort_values("window"),
        running.sort_values("window"),
        on="window",
        by=["token_code", "hour"],
        allow_exact_matches=False,
    )
    code, hour = before["token_code"].to_numpy(), before["hour"].to_numpy()
    before["count"] = before["count"].fillna(0) + stored.hours[code, hour]
    totals = candidates["prior_total"].reindex(before["code"]).to_numpy()
    before["active"] = before["count"] >= share * totals
    active = before.groupby("code")["active"].sum().reindex(candidates.index)
    return np.asarray(active.to_numpy(dtype=np.int64), dtype=np.int64)
