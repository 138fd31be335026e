"""The rows one scan judges, with the columns every detector derives from them.

A scan judges the events carried over from the previous scan (its open windows) together with
the new ones, in time order, so a window that straddles two scans is seen whole. Derived values
(window, network, hour of the week, integer codes of the text columns) are computed once here,
on the distinct values where that is cheaper than on every row (a few thousand IPs rather than
a million events).
"""

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from controlplane.anomaly.detection.config import DetectionConfig
from controlplane.anomaly.detection.grouping import Coded, Flags, Ints

MICROS = 1_000_000
DAY_US = 86_400 * MICROS
# 401 reasons of tokens that exist but may no longer be used (use_limit_spent is excluded: an
# agent that used up its token retrying is not someone reusing a dead credential).
DEAD_TOKEN_REASONS = {
    "unauthenticated:revoked": "revoked",
    "unauthenticated:suspended": "suspended",
    "unauthenticated:expired": "expired",
}
HOURS_OF_WEEK = 48  # 24 weekday hours, then 24 weekend hours


@dataclass(frozen=True)
class Events:
    frame: pd.DataFrame  # carried then new rows, sorted by ts; index 0..n-1
    is_new: Flags  # the row came with this scan (not carried from the previous one)
    window: Ints  # fixed window number: epoch seconds // window_seconds
    config: DetectionConfig
    _coded: dict[str, Coded] = field(default_factory=dict, repr=False, compare=False)

    def coded(self, column: str) -> Coded:
        """The text column as integer codes (computed once per scan)."""
        if column not in self._coded:
            self._coded[column] = Coded.of(self.frame[column])
        return self._coded[column]

    @cached_property
    def status(self) -> Ints:
        return self.frame["status"].to_numpy(dtype=np.int64)

    @cached_property
    def authenticated(self) -> Flags:
        """Rows where a live token was used: a token accessor and no 401 (a token that no
        longer authenticates is not its owner's activity)."""
        known = self.coded("token_accessor").codes >= 0
        return np.asarray(known & (self.status != 401), dtype=bool)

    @cached_property
    def micros(self) -> Ints:
        return micros(self.frame["ts"])

    @cached_property
    def network(self) -> Coded:
        """The network of each row's client IP (IPv4 /24, IPv6 /64 by default)."""
        ips = self.coded("client_ip")
        names = [self._network(str(ip)) for ip in ips.values]
        net_codes, net_values = pd.factorize(pd.Series(names, dtype=object))
        by_ip = np.append(net_codes.astype(np.int64), -1)  # -1 (no IP) maps to -1
        return Coded(by_ip[ips.codes], np.asarray(net_values, dtype=object))

    def _network(self, ip: str) -> str:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return ip  # not an address: only equal to itself
        prefix = self.config.ipv4_prefix if address.version == 4 else self.config.ipv6_prefix
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))

    @cached_property
    def owner(self) -> Coded:
        """The agent of each row, or its token when it has no agent (new_model's entity)."""
        frame = self.frame
        return Coded.of(frame["agent_id"].fillna(frame["token_accessor"]))

    def window_start_us(self, window: Ints) -> Ints:
        return np.asarray(window, dtype=np.int64) * self.config.window_seconds * MICROS


def hour_of_week(stamps_us: Ints) -> Ints:
    """0-23 for a weekday's hours, 24-47 for a weekend day's (UTC)."""
    seconds = stamps_us // MICROS
    days = seconds // 86_400
    weekend = ((days + 3) % 7) >= 5  # 1970-01-01 was a Thursday (weekday 3)
    return np.asarray((seconds % 86_400) // 3600 + 24 * weekend, dtype=np.int64)


def prepare(carried: pd.DataFrame, new: pd.DataFrame, config: DetectionConfig) -> Events:
    combined = pd.concat([carried, new], ignore_index=True) if len(carried) else new
    is_new = np.concatenate([np.zeros(len(carried), bool), np.ones(len(new), bool)])
    stamps = micros(combined["ts"])
    # Stable: equal timestamps keep their source order (seq or line, carried before new).
    # An export or a page of the database is in order already: no need to copy it.
    if not np.all(stamps[1:] >= stamps[:-1]):
        order = np.argsort(stamps, kind="stable")
        combined, stamps, is_new = (
            combined.iloc[order].reset_index(drop=True),
            stamps[order],
            is_new[order],
        )
    window = stamps // (config.window_seconds * MICROS)
    return Events(frame=combined, is_new=is_new, window=window, config=config)


def micros(ts: "pd.Series[pd.Timestamp]") -> Ints:
    """Microseconds since the epoch, as int64 (the frame's `ts` is UTC)."""
    return ts.to_numpy(dtype="datetime64[us]").astype(np.int64)
