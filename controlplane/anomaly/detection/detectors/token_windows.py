"""Per-token windows against the token's own history: rate_spike, many_ips, many_user_agents
and exfiltration.

Each (token, window) of authenticated use is counted: requests, distinct client IPs, distinct
user agents, bytes and tokens out. A window is judged against the token's `history_windows`
active windows *before* it (the stored ones, then the earlier windows of this scan), never
against itself: an attack cannot raise its own baseline, and scanning a day in ten pieces
judges every window exactly as scanning it at once. The "usual peak" is a high quantile
(`baseline_quantile`) of those windows, so a few earlier attack windows do not hide later ones.
A token with fewer than `baseline_min_windows` earlier windows or `baseline_min_events` earlier
requests has no baseline yet and raises none of these alerts.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from controlplane.anomaly.detection.alerts import EntityType, Severity
from controlplane.anomaly.detection.detectors.findings import (
    Findings,
    from_groups,
    severities,
    window_text,
)
from controlplane.anomaly.detection.events import MICROS, Events
from controlplane.anomaly.detection.grouping import Groups, Ints, Positions

METRICS = ("requests", "ips", "uas", "bytes_out", "tokens_out")
HOUR_US = 3600 * MICROS
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class TokenWindows:
    rows: Positions  # the authenticated rows
    codes: Ints  # each row's (token, window) group
    # Per group (index = code): token (text), token_code, window, METRICS, first_seen (the
    # token's first use, epoch microseconds), and the baseline before the window:
    # prior_windows, prior_events, median_requests, peak_<metric>.
    stats: pd.DataFrame

    def baseline_ready(self, events: Events) -> "pd.Series[bool]":
        config = events.config
        stats = self.stats
        age = events.window_start_us(stats["window"].to_numpy()) - stats["first_seen"].to_numpy()
        old_enough = pd.Series(age >= config.baseline_min_hours * HOUR_US, index=stats.index)
        return (
            (stats["prior_windows"] >= config.baseline_min_windows)
            & (stats["prior_events"] >= config.baseline_min_events)
            & old_enough
        )


def token_windows(events: Events, tables: dict[str, pd.DataFrame]) -> TokenWindows:
    rows = np.flatnonzero(events.authenticated)
    token = events.coded("token_accessor")
    token_codes, window = token.codes[rows], events.window[rows]
    groups = Groups(token_codes, window - window.min(initial=0))
    frame = events.frame
    tokens_out = frame["tokens_out"].to_numpy(dtype=np.float64, na_value=0.0)[rows]
    stats = pd.DataFrame(
        {
            "token_code": groups.first(token_codes),
            "window": groups.first(window),
            "requests": groups.size(),
            "ips": groups.nunique(events.coded("client_ip").codes[rows]),
            "uas": groups.nunique(events.coded("user_agent").codes[rows]),
            "bytes_out": groups.sum(frame["bytes_out"].to_numpy()[rows]).astype(np.int64),
            "tokens_out": groups.sum(tokens_out).astype(np.int64),
        }
    )
    stats["token"] = token.text(stats["token_code"].to_numpy())
    stats["first_seen"] = _first_seen(events, rows, tables["tokens"])[stats["token_code"]]
    history = tables["history"]
    stored = history.assign(token_code=token.lookup(history["token"]))
    stored = stored[stored["token_code"] >= 0]  # tokens not in this scan need no baseline
    return TokenWindows(rows, groups.codes, _with_baselines(stats, stored, events))


def _first_seen(events: Events, rows: Positions, stored: pd.DataFrame) -> Ints:
    """When each token (by code) was first used: stored, or in this scan."""
    token = events.coded("token_accessor")
    first = np.full(len(token.values) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, token.codes[rows], events.micros[rows])
    found = token.lookup(stored["token"])
    known = found >= 0
    earlier = stored["first_seen"].to_numpy(dtype=np.int64)[known]
    first[found[known]] = np.minimum(first[found[known]], earlier)
    return first


def _with_baselines(stats: pd.DataFrame, history: pd.DataFrame, events: Events) -> pd.DataFrame:
    """`stats` plus each window's baseline: the token's active windows before it."""
    size = events.config.history_windows
    columns = ["token_code", "window", *METRICS]
    table = pd.concat(
        [history[columns].assign(code=-1), stats[columns].assign(code=stats.index)],
        ignore_index=True,
    )
    order = np.lexsort((table["code"], table["window"], table["token_code"]))
    table = table.iloc[order].reset_index(drop=True)
    token = table["token_code"]
    # Shifted by one within the token, so each window's rolling figures cover only the
    # windows before it.
    earlier = table.groupby("token_code", sort=False)[list(METRICS)].shift(1)
    rolling = earlier.groupby(token, sort=False).rolling(size, min_periods=1)
    peaks = rolling.quantile(events.config.baseline_quantile).droplevel(0).sort_index()
    requests = earlier["requests"].groupby(token, sort=False).rolling(size, min_periods=1)
    baseline = pd.DataFrame(
        {
            "prior_windows": table.groupby("token_code", sort=False).cumcount().clip(upper=size),
            "prior_events": requests.sum().droplevel(0).sort_index().fillna(0),
            "median_requests": requests.median().droplevel(0).sort_index(),
            **{f"peak_{metric}": peaks[metric] for metric in METRICS},
        }
    )
    current = (table["code"] >= 0).to_numpy()
    baseline = baseline[current].set_axis(table.loc[current, "code"].to_numpy())
    return stats.join(baseline)


def _fired(windows: TokenWindows, events: Events, condition: "pd.Series[bool]") -> pd.DataFrame:
    return windows.stats[condition & windows.baseline_ready(events)].copy()


def _findings(name: str, fired: pd.DataFrame, windows: TokenWindows) -> Findings:
    fired["entity_type"] = EntityType.TOKEN.value
    fired["entity"] = fired["token"]
    fired["token_accessor"] = fired["token"]
    return from_groups(name, fired, windows.rows, windows.codes)


def _floor(values: "pd.Series[float]") -> "pd.Series[float]":
    return values.clip(lower=1.0)


def rate_spike(windows: TokenWindows, events: Events) -> Findings:
    config, stats = events.config, windows.stats
    peak = _floor(stats["peak_requests"])
    hit = (stats["requests"] >= config.rate_spike_min_requests) & (
        stats["requests"] >= config.rate_spike_ratio * peak
    )
    fired = _fired(windows, events, hit)
    fired["score"] = fired["requests"] / _floor(fired["peak_requests"])
    high = (fired["score"] >= 2 * config.rate_spike_ratio).to_numpy()
    fired["severity"] = severities(Severity.MEDIUM.value, [(high, Severity.HIGH.value)])
    span = window_text(config.window_seconds)
    fired["explanation"] = [
        f"{token} made {requests:,} requests in {span}; its usual peak is {peak:,.0f} "
        f"(median {median:,.0f})."
        for token, requests, peak, median in zip(
            fired["token"],
            fired["requests"],
            fired["peak_requests"],
            fired["median_requests"],
            strict=True,
        )
    ]
    return _findings("rate_spike", fired, windows)


def many_ips(windows: TokenWindows, events: Events) -> Findings:
    config = events.config
    return _many_distinct(
        windows,
        events,
        ("ips", config.many_ips_min, config.many_ips_ratio, Severity.HIGH),
        "many_ips",
        "was used from {count} distinct IP addresses in {span} ({requests:,} requests); "
        "it usually uses at most {peak:,.0f}.",
    )


def many_user_agents(windows: TokenWindows, events: Events) -> Findings:
    config = events.config
    return _many_distinct(
        windows,
        events,
        ("uas", config.many_user_agents_min, config.many_user_agents_ratio, Severity.MEDIUM),
        "many_user_agents",
        "sent {count} distinct user agents in {span} ({requests:,} requests); "
        "it usually sends at most {peak:,.0f}.",
    )


def _many_distinct(
    windows: TokenWindows,
    events: Events,
    rule: tuple[str, float, float, Severity],
    name: str,
    text: str,
) -> Findings:
    """Too many distinct values of `column` for one token in a window: at least `minimum`,
    and at least `ratio` times the token's usual peak of them."""
    column, minimum, ratio, severity = rule
    stats, peak_column = windows.stats, f"peak_{column}"
    hit = (stats[column] >= minimum) & (stats[column] >= ratio * _floor(stats[peak_column]))
    fired = _fired(windows, events, hit)
    fired["score"] = fired[column] / _floor(fired[peak_column])
    fired["severity"] = severity.value
    span = window_text(events.config.window_seconds)
    fired["explanation"] = [
        f"{token} " + text.format(count=count, span=span, requests=requests, peak=peak)
        for token, count, requests, peak in zip(
            fired["token"], fired[column], fired["requests"], fired[peak_column], strict=True
        )
    ]
    return _findings(name, fired, windows)


def exfiltration(windows: TokenWindows, events: Events) -> Findings:
    config, stats = events.config, windows.stats
    ratio = config.exfiltration_ratio
    # The peak is floored at minimum / ratio, so a token that never received anything (an
    # embeddings-only agent has no output tokens) does not score in the millions.
    bytes_ratio = stats["bytes_out"] / stats["peak_bytes_out"].clip(
        lower=config.exfiltration_min_bytes / ratio
    )
    tokens_ratio = stats["tokens_out"] / stats["peak_tokens_out"].clip(
        lower=config.exfiltration_min_tokens / ratio
    )
    bytes_hit = (stats["bytes_out"] >= config.exfiltration_min_bytes) & (bytes_ratio >= ratio)
    tokens_hit = (stats["tokens_out"] >= config.exfiltration_min_tokens) & (tokens_ratio >= ratio)
    score = np.maximum(bytes_ratio.where(bytes_hit, 0.0), tokens_ratio.where(tokens_hit, 0.0))
    fired = _fired(windows, events, bytes_hit | tokens_hit)
    fired["score"] = score[fired.index]
    critical = (fired["score"] >= 5 * ratio).to_numpy()
    fired["severity"] = severities(Severity.HIGH.value, [(critical, Severity.CRITICAL.value)])
    span = window_text(config.window_seconds)
    fired["explanation"] = [
        f"{token} received {out / MEGABYTE:,.1f} MB and {tokens:,} output tokens in {span}; "
        f"its usual peak is {peak_out / MEGABYTE:,.1f} MB and {peak_tokens:,.0f} tokens."
        for token, out, tokens, peak_out, peak_tokens in zip(
            fired["token"],
            fired["bytes_out"],
            fired["tokens_out"],
            fired["peak_bytes_out"],
            fired["peak_tokens_out"],
            strict=True,
        )
    ]
    return _findings("exfiltration", fired, windows)
