"""Detectors on refused requests, counted per window with no baseline: auth_failure_burst,
credential_stuffing, revoked_token_reuse and permission_probing.

Failures have no "usual level" worth learning: a healthy agent fails authentication almost
never, so fixed thresholds per window are both simpler and harder to train away.
"""

import numpy as np
import pandas as pd

from controlplane.anomaly.detection.alerts import WHOLE_INSTANCE, EntityType, Severity
from controlplane.anomaly.detection.detectors.findings import (
    Findings,
    from_groups,
    severities,
    window_text,
)
from controlplane.anomaly.detection.events import DEAD_TOKEN_REASONS, Events
from controlplane.anomaly.detection.grouping import Coded, Groups, Ints, Positions

_SERIOUS = ("revoked", "suspended")
_KINDS = ("expired", *_SERIOUS)


def _by_window(events: Events, rows: Positions, *keys: Ints) -> Groups:
    window = events.window[rows]
    return Groups(*keys, window - window.min(initial=0))


def auth_failure_burst(events: Events) -> Findings:
    config = events.config
    ip = events.coded("client_ip")
    rows = np.flatnonzero((events.status == 401) & (ip.codes >= 0))
    groups = _by_window(events, rows, ip.codes[rows])
    counted = pd.DataFrame(
        {
            "entity": ip.text(groups.first(ip.codes[rows])),
            "window": groups.first(events.window[rows]),
            "score": groups.size().astype(np.float64),
        }
    )
    fired = counted[counted["score"] >= config.auth_failure_burst_min].copy()
    high = (fired["score"] >= config.auth_failure_burst_high).to_numpy()
    fired["severity"] = severities(Severity.MEDIUM.value, [(high, Severity.HIGH.value)])
    fired["entity_type"] = EntityType.IP.value
    fired["token_accessor"] = None
    span = window_text(config.window_seconds)
    fired["explanation"] = [
        f"{address} failed authentication {count:,.0f} times in {span}."
        for address, count in zip(fired["entity"], fired["score"], strict=True)
    ]
    return from_groups("auth_failure_burst", fired, rows, groups.codes)


def credential_stuffing(events: Events) -> Findings:
    config = events.config
    workspace = events.coded("workspace_id")
    rows = np.flatnonzero(events.status == 401)
    groups = _by_window(events, rows, workspace.codes[rows])
    entity = workspace.text(groups.first(workspace.codes[rows]))
    counted = pd.DataFrame(
        {
            "entity": np.where(pd.isna(entity), WHOLE_INSTANCE, entity),
            "window": groups.first(events.window[rows]),
            "failures": groups.size(),
            "score": groups.nunique(events.coded("client_ip").codes[rows]).astype(np.float64),
        }
    )
    fired = counted[counted["score"] >= config.credential_stuffing_min_ips].copy()
    critical = (fired["score"] >= config.credential_stuffing_critical_ips).to_numpy()
    fired["severity"] = severities(Severity.HIGH.value, [(critical, Severity.CRITICAL.value)])
    fired["entity_type"] = EntityType.WORKSPACE.value
    fired["token_accessor"] = None
    span = window_text(config.window_seconds)
    fired["explanation"] = [
        f"{failures:,} failed authentications from {ips:.0f} distinct IP addresses in {span} "
        + (
            "with malformed or unknown tokens (no workspace)."
            if name == WHOLE_INSTANCE
            else f"against workspace {name}."
        )
        for name, failures, ips in zip(
            fired["entity"], fired["failures"], fired["score"], strict=True
        )
    ]
    return from_groups("credential_stuffing", fired, rows, groups.codes)


def revoked_token_reuse(events: Events) -> Findings:
    config = events.config
    token = events.coded("token_accessor")
    reason = events.coded("reason")
    # Each reason's kind as an index into _KINDS (-1: not a dead token's reason).
    kind_of = [
        _KINDS.index(DEAD_TOKEN_REASONS[text]) if text in DEAD_TOKEN_REASONS else -1
        for text in reason.values
    ]
    kind = np.append(np.array(kind_of, dtype=np.int64), -1)[reason.codes]
    rows = np.flatnonzero((events.status == 401) & (token.codes >= 0) & (kind >= 0))
    groups = _by_window(events, rows, token.codes[rows])
    present = np.zeros((groups.count, len(_KINDS)), dtype=bool)
    for index in range(len(_KINDS)):
        present[:, index] = (
            np.bincount(groups.codes[kind[rows] == index], minlength=groups.count) > 0
        )
    fired = pd.DataFrame(
        {
            "entity": token.text(groups.first(token.codes[rows])),
            "window": groups.first(events.window[rows]),
            "score": groups.size().astype(np.float64),
            "ips": groups.nunique(events.coded("client_ip").codes[rows]),
            "kinds": [
                [name for name, seen in zip(_KINDS, flags, strict=True) if seen]
                for flags in present
            ],
        }
    )
    serious = np.asarray(present[:, 1:].any(axis=1), dtype=bool)  # revoked or suspended
    burst = (fired["score"] >= config.revoked_burst_events).to_numpy()
    fired["severity"] = severities(
        Severity.MEDIUM.value, [(serious, Severity.HIGH.value), (burst, Severity.CRITICAL.value)]
    )
    fired["entity_type"] = EntityType.TOKEN.value
    fired["token_accessor"] = None  # the token is dead already: nothing to suspend
    span = window_text(config.window_seconds)
    fired["explanation"] = [
        f"{name}, {_article(kinds[0])} {' and '.join(kinds)} token, was used {count:,.0f} "
        f"times in {span} "
        f"from {ips} IP address{'es' if ips != 1 else ''}."
        for name, kinds, count, ips in zip(
            fired["entity"], fired["kinds"], fired["score"], fired["ips"], strict=True
        )
    ]
    return from_groups("revoked_token_reuse", fired, rows, groups.codes)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def permission_probing(events: Events) -> Findings:
    config = events.config
    token, ip = events.coded("token_accessor"), events.coded("client_ip")
    refused = np.isin(events.status, [403, 404]) & ((token.codes >= 0) | (ip.codes >= 0))
    rows = np.flatnonzero(refused)
    by_token = token.codes[rows] >= 0
    entity = np.where(by_token, token.codes[rows], ip.codes[rows])
    groups = _by_window(events, rows, by_token.astype(np.int64), entity)
    first_by_token = groups.first(by_token)
    first_entity = groups.first(entity)
    counted = pd.DataFrame(
        {
            "entity_type": np.where(first_by_token, EntityType.TOKEN.value, EntityType.IP.value),
            "entity": np.where(
                first_by_token,
                token.text(np.where(first_by_token, first_entity, -1)),
                ip.text(np.where(first_by_token, -1, first_entity)),
            ),
            "window": groups.first(events.window[rows]),
            "refusals": groups.size(),
            "score": groups.nunique(_targets(events).codes[rows]).astype(np.float64),
        }
    )
    hit = (counted["refusals"] >= config.probing_min_events) & (
        counted["score"] >= config.probing_min_targets
    )
    fired = counted[hit].copy()
    fired["severity"] = Severity.HIGH.value
    fired["token_accessor"] = fired["entity"].where(
        fired["entity_type"] == EntityType.TOKEN.value, None
    )
    span = window_text(config.window_seconds)
    fired["explanation"] = [
        f"{name} was refused (403/404) {count:,} times across {paths:.0f} distinct paths in {span}."
        for name, count, paths in zip(
            fired["entity"], fired["refusals"], fired["score"], strict=True
        )
    ]
    return from_groups("permission_probing", fired, rows, groups.codes)


def _targets(events: Events) -> Coded:
    """Each row's path without its query: what a prober tries. A workspace or agent id in
    the path makes it another target."""
    paths = events.coded("path")
    stripped = [str(path).split("?", 1)[0] for path in paths.values]
    codes, values = pd.factorize(pd.Series(stripped, dtype=object))
    return Coded(np.append(codes, -1)[paths.codes], np.asarray(values, dtype=object))
