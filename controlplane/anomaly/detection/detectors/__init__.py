"""The detectors: what each looks for (`DETECTORS`), and running them all on one scan's rows."""

import pandas as pd

from controlplane.anomaly.detection.alerts import DetectorInfo, EntityType, Severity
from controlplane.anomaly.detection.detectors import failures, first_seen, schedule
from controlplane.anomaly.detection.detectors import token_windows as windowed
from controlplane.anomaly.detection.detectors.findings import Findings
from controlplane.anomaly.detection.events import Events

DETECTORS: tuple[DetectorInfo, ...] = (
    DetectorInfo(
        "rate_spike",
        EntityType.TOKEN,
        Severity.MEDIUM,
        "requests per window far above the token's own usual peak",
    ),
    DetectorInfo(
        "new_network",
        EntityType.TOKEN,
        Severity.HIGH,
        "a token used from a network it never used (critical with a burst: a stolen token)",
    ),
    DetectorInfo(
        "many_ips", EntityType.TOKEN, Severity.HIGH, "one token from many client IPs in a window"
    ),
    DetectorInfo(
        "many_user_agents",
        EntityType.TOKEN,
        Severity.MEDIUM,
        "one token with many user agents in a window",
    ),
    DetectorInfo(
        "auth_failure_burst",
        EntityType.IP,
        Severity.MEDIUM,
        "many failed authentications (401) from one client IP in a window",
    ),
    DetectorInfo(
        "credential_stuffing",
        EntityType.WORKSPACE,
        Severity.HIGH,
        "failed authentications from many IPs against one workspace (or no workspace: '*')",
    ),
    DetectorInfo(
        "permission_probing",
        EntityType.TOKEN,
        Severity.HIGH,
        "a burst of 403/404 across many paths, by a token (or an IP without one)",
    ),
    DetectorInfo(
        "exfiltration",
        EntityType.TOKEN,
        Severity.HIGH,
        "bytes or tokens out per window far above the token's usual peak",
    ),
    DetectorInfo(
        "revoked_token_reuse",
        EntityType.TOKEN,
        Severity.HIGH,
        "any use of a revoked, suspended or expired token",
    ),
    DetectorInfo(
        "off_hours",
        EntityType.TOKEN,
        Severity.LOW,
        "a token with a stable schedule active in an hour where it is normally silent",
    ),
    DetectorInfo(
        "new_model",
        EntityType.AGENT,
        Severity.LOW,
        "an agent (or a token without one) calling a model or upstream it never called",
    ),
)


def run_all(
    events: Events, tables: dict[str, pd.DataFrame]
) -> tuple[list[Findings], windowed.TokenWindows]:
    """Every detector's findings, and the per-token windows (learning stores them)."""
    windows = windowed.token_windows(events, tables)
    spikes = windowed.rate_spike(windows, events)
    findings = [
        spikes,
        first_seen.new_network(events, tables, spikes),
        windowed.many_ips(windows, events),
        windowed.many_user_agents(windows, events),
        failures.auth_failure_burst(events),
        failures.credential_stuffing(events),
        failures.permission_probing(events),
        windowed.exfiltration(windows, events),
        failures.revoked_token_reuse(events),
        schedule.off_hours(events, tables, windows),
        first_seen.new_model(events, tables),
    ]
    return findings, windows
