"""The detectors: what each looks for (`DETECTORS`), and running them all on one scan's rows.

Every detector works per fixed window (`window_seconds`). "Peak" is the token's usual peak: the
`baseline_quantile` of its earlier active windows (see `token_windows`); those four need 36
earlier active windows, 200 earlier requests and a day since the token's first use. Defaults:

- rate_spike (token): requests >= 60 and >= 6 x peak. Score: requests / peak. Medium; high
  from 12 x.
- new_network (token): a network (IPv4 /24, IPv6 /64) never seen for the token, once it has
  made 100 requests. Score: requests from new networks in the window. High; critical with
  >= 30 requests from one new network or a rate_spike in the same window.
- many_ips (token): distinct client IPs >= 8 and >= 3 x peak. Score: IPs / peak. High.
- many_user_agents (token): distinct user agents >= 6 and >= 3 x peak. Score: user agents /
  peak. Medium.
- auth_failure_burst (ip): 401s >= 20. Score: 401s. Medium; high from 100.
- credential_stuffing (workspace, "*" for failures without one): 401s from >= 10 distinct
  IPs. Score: distinct IPs. High; critical from 40.
- permission_probing (token, or ip without one): 403/404 >= 15 across >= 8 distinct paths.
  Score: distinct paths. High.
- exfiltration (token): bytes out >= 50 MB and >= 10 x peak, or tokens out >= 500,000 and
  >= 10 x peak. Score: the larger ratio to the peak (each peak floored at minimum / 10). High;
  critical from 50 x.
- revoked_token_reuse (token, the dead one): any 401 as revoked, suspended or expired. Score:
  uses. High (medium when only expired); critical from 20 uses.
- off_hours (token): >= 10 requests in an hour holding < 0.2% of a scheduled token's earlier
  requests (see `schedule`). Score: requests. Low; medium from 50.
- new_model (agent, or token without one): a model or upstream never called, once the agent
  has made 100 allowed requests. Score: requests carrying new items. Low.
"""

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
