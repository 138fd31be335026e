"""Every threshold the detectors use, with its default and what it means.

One frozen dataclass: settings (JSON) and the CLI (`--set NAME=VALUE`) override fields by name
through `with_overrides`, which refuses unknown names so a typo cannot silently do nothing.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class DetectionConfig:
    # --- windows and state ---------------------------------------------------------------
    window_seconds: int = 300  # fixed windows aligned to the Unix epoch
    # The newest windows (by the newest event seen) whose events are carried to the next scan,
    # so a window that straddles two scans is judged on all its events.
    open_windows: int = 2
    max_open_events: int = 200_000  # cap on the carried events (oldest dropped beyond it)
    max_evidence: int = 20  # evidence rows kept per alert
    ipv4_prefix: int = 24  # "network" of an IPv4 address for new_network
    ipv6_prefix: int = 64  # "network" of an IPv6 address
    idle_days: int = 30  # a token or agent unseen this long is forgotten
    max_known_items: int = 64  # networks per token, models/upstreams per agent (newest kept)

    # --- per-token baselines (rate_spike, many_ips, many_user_agents, exfiltration) ------
    history_windows: int = 288  # the token's newest active windows that form its baseline
    baseline_min_windows: int = 36  # fewer earlier active windows: no baseline-relative alert
    baseline_min_events: int = 200  # fewer earlier requests: no baseline-relative alert
    baseline_min_hours: int = 24  # a younger token has none either: a day shows its daily cycle
    baseline_quantile: float = 0.95  # the token's "usual peak" is this quantile of its windows

    # --- rate_spike ------------------------------------------------------------------------
    rate_spike_ratio: float = 6.0  # requests in the window >= ratio x usual peak
    rate_spike_min_requests: int = 60  # and at least this many

    # --- new_network / new_model -------------------------------------------------------------
    warmup_events: int = 100  # events a token/agent needs before anything counts as new
    new_network_burst_events: int = 30  # events from a new network in one window: critical

    # --- many_ips / many_user_agents ---------------------------------------------------------
    many_ips_min: int = 8  # distinct client IPs in the window, at least
    many_ips_ratio: float = 3.0  # and >= ratio x the token's usual peak of distinct IPs
    many_user_agents_min: int = 6
    many_user_agents_ratio: float = 3.0

    # --- auth_failure_burst / credential_stuffing ---------------------------------------------
    auth_failure_burst_min: int = 20  # 401s from one IP in one window
    auth_failure_burst_high: int = 100  # from here on severity high
    credential_stuffing_min_ips: int = 10  # distinct IPs with 401s against one workspace
    credential_stuffing_critical_ips: int = 40  # from here on severity critical

    # --- permission_probing ----------------------------------------------------------------
    probing_min_events: int = 15  # 403/404 answers to one token (or IP) in one window
    probing_min_targets: int = 8  # across at least this many distinct paths

    # --- exfiltration ------------------------------------------------------------------------
    exfiltration_ratio: float = 10.0  # bytes_out or tokens_out >= ratio x usual peak
    exfiltration_min_bytes: int = 50_000_000  # and at least this many bytes out
    exfiltration_min_tokens: int = 500_000  # (or this many tokens out)

    # --- revoked_token_reuse -----------------------------------------------------------------
    revoked_burst_events: int = 20  # uses of a dead token in one window: critical

    # --- off_hours -----------------------------------------------------------------------------
    off_hours_min_events: int = 300  # earlier requests needed before a schedule counts
    off_hours_min_days: int = 2  # full days of the same kind (weekday/weekend) seen before
    off_hours_silent_share: float = 0.002  # an hour holding less of the activity is "silent"
    off_hours_max_active_hours: int = 16  # at most this many of the 48 hours active: a schedule
    off_hours_min_requests: int = 10  # requests in one window of a silent hour
    off_hours_medium_requests: int = 50  # from here on severity medium

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{spec.name} must be a number of at least 0, not {value!r}")
            if value == 0 and spec.name in _POSITIVE:
                raise ValueError(f"{spec.name} must be above 0")
        if not self.baseline_quantile < 1 or not self.off_hours_silent_share < 1:
            raise ValueError("baseline_quantile and off_hours_silent_share must be below 1")
        if self.ipv4_prefix > 32 or self.ipv6_prefix > 128:
            raise ValueError("ipv4_prefix is at most 32 and ipv6_prefix at most 128")

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, int | float]) -> "DetectionConfig":
        """The defaults with `overrides` applied; an unknown name or a bad value is a ValueError."""
        kinds = {spec.name: spec.type for spec in fields(cls)}
        values: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in kinds:
                raise ValueError(f"unknown detection setting {name!r}")
            values[name] = _coerce(name, kinds[name], value)
        return replace(cls(), **values)


# Sizes and ratios that make no sense at 0; every other threshold at 0 means "no minimum".
_POSITIVE = {
    "window_seconds",
    "open_windows",
    "max_open_events",
    "max_evidence",
    "ipv4_prefix",
    "ipv6_prefix",
    "idle_days",
    "max_known_items",
    "history_windows",
    "baseline_quantile",
    "off_hours_silent_share",
}


def _coerce(name: str, kind: object, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, not {value!r}")  # noqa: TRY004 - settings and the CLI report ValueError
    if kind is int:
        if value != int(value):
            raise ValueError(f"{name} must be a whole number, not {value!r}")
        return int(value)
    return float(value)
