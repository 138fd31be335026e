"""`scan`: one call of the detectors over new events, with the state of the calls before it.

The database job calls it every minute with only the new events and the baselines the
previous call returned; an exported file is scanned once, with everything and
`Baselines.empty()`. Either way:

1. the new events join the events carried from the previous call (its open windows);
2. every detector judges every window of those rows in time order, each window against what
   was learned before it (earlier calls, then this call's earlier windows): a window is never
   part of its own baseline, so scanning in pieces finds what scanning at once finds;
3. the windows that are now closed are learned, the open ones carried to the next call.

An alert is returned when at least one of its supporting events is new in this call. A window
seen by two calls is reported by both, the second time with its full count (and possibly a
higher score or severity): callers upsert by `Alert.key()`.

Events older than the open windows (a late flush, a replayed spool) are still counted in their
own window, but only with the other late events of that window (the window's earlier events
were learned and are gone) and against the state as it is, which already holds later windows;
see `learning`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from controlplane.access_log.records import FIELD_NAMES
from controlplane.anomaly.detection.alerts import WHOLE_INSTANCE, Alert, EntityType, Severity
from controlplane.anomaly.detection.baselines import Baselines
from controlplane.anomaly.detection.config import DetectionConfig
from controlplane.anomaly.detection.detectors import run_all
from controlplane.anomaly.detection.detectors.findings import ALERT_COLUMNS, Findings
from controlplane.anomaly.detection.events import Events, prepare
from controlplane.anomaly.detection.frame import evidence_rows
from controlplane.anomaly.detection.grouping import Ints, Positions
from controlplane.anomaly.detection.learning import learn

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ScanResult:
    alerts: list[Alert]
    baselines: Baselines
    events: int  # the new events scanned (carried ones not counted again)


def scan(frame: pd.DataFrame, baselines: Baselines, config: DetectionConfig) -> ScanResult:
    missing = [name for name in FIELD_NAMES if name not in frame]
    if missing:
        raise ValueError(f"not a detection frame: no {', '.join(missing)} column")
    if frame.empty:
        return ScanResult([], baselines, 0)
    # Baselines learned with another window size or network prefix describe other windows
    # and networks: start over rather than compare unlike things.
    state = baselines if baselines.fits(config) else Baselines.empty()
    events = prepare(state.open_events, frame.reset_index(drop=True), config)
    findings, windows = run_all(events, state.tables)
    # Every alert's evidence rows in one pass over the frame: taking rows from a frame of a
    # million costs per call, whatever the number of rows taken.
    kept = [_evidence(found, config.max_evidence) for found in findings]
    wanted = np.unique(np.concatenate([np.zeros(0, np.intp), *(k["row"] for k in kept)]))
    records = dict(zip(wanted.tolist(), evidence_rows(events.frame.iloc[wanted]), strict=True))
    alerts = [
        alert
        for found, chosen in zip(findings, kept, strict=True)
        for alert in _alerts(found, chosen, records, events)
    ]
    return ScanResult(alerts, learn(state, events, windows), len(frame))


def _evidence(found: Findings, limit: int) -> pd.DataFrame:
    """The first `limit` supporting rows of each alert, in time order (the frame's order)."""
    rows = found.support["row"].to_numpy(dtype=np.intp)
    alert = found.support["alert"].to_numpy(dtype=np.int64)
    order = np.lexsort((rows, alert))
    kept = pd.DataFrame({"row": rows[order], "alert": alert[order]})
    return kept.groupby("alert").head(limit)


def _alerts(
    found: Findings, kept: pd.DataFrame, records: dict[int, dict[str, Any]], events: Events
) -> list[Alert]:
    support, table = found.support, found.alerts
    if support.empty:
        return []
    count = len(table)
    rows = support["row"].to_numpy(dtype=np.intp)
    alert = support["alert"].to_numpy(dtype=np.int64)
    fresh = np.bincount(alert[events.is_new[rows]], minlength=count) > 0
    counts = np.bincount(alert, minlength=count)
    by_alert: dict[int, list[dict[str, Any]]] = {}
    for number, row in zip(kept["alert"].tolist(), kept["row"].tolist(), strict=True):
        by_alert.setdefault(number, []).append(records[row])
    first_workspace, shared = _workspaces(events, rows, alert, count)
    span = timedelta(seconds=events.config.window_seconds)
    values = {name: table[name].tolist() for name in ALERT_COLUMNS}
    result = []
    for number in np.flatnonzero(fresh).tolist():
        start = _EPOCH + span * int(values["window"][number])
        entity_type = EntityType(values["entity_type"][number])
        entity = str(values["entity"][number])
        token = values["token_accessor"][number]
        result.append(
            Alert(
                detector=found.detector,
                severity=Severity(values["severity"][number]),
                entity_type=entity_type,
                entity=entity,
                workspace_id=_workspace(
                    entity_type, entity, first_workspace[number], shared[number]
                ),
                token_accessor=None if pd.isna(token) else str(token),
                window_start=start,
                window_end=start + span,
                score=float(values["score"][number]),
                evidence_count=int(counts[number]),
                explanation=str(values["explanation"][number]),
                evidence=tuple(by_alert[number]),
            )
        )
    return result


def _workspaces(
    events: Events, rows: Positions, alert: Ints, count: int
) -> tuple[list[str | None], list[bool]]:
    """Per alert: the workspace of its first row, and whether every row has that one."""
    workspace = events.coded("workspace_id")
    order = np.lexsort((rows, alert))
    codes = pd.Series(workspace.codes[rows[order]]).groupby(alert[order])
    first = codes.first().reindex(range(count), fill_value=-1).to_numpy(dtype=np.int64)
    one = (codes.nunique() == 1) & (codes.min() >= 0)  # -1: a row without a workspace
    names: list[str | None] = [
        None if name is None else str(name) for name in workspace.text(first)
    ]
    return names, one.reindex(range(count), fill_value=False).astype(bool).tolist()


def _workspace(entity_type: EntityType, entity: str, first: str | None, shared: bool) -> str | None:
    """The workspace an alert belongs to (tenant isolation): a token's or agent's own (its
    first row's); for an IP, the one every supporting row shares, else none; for credential
    stuffing, the workspace itself ("*": none)."""
    if entity_type is EntityType.WORKSPACE:
        return None if entity == WHOLE_INSTANCE else entity
    if entity_type is EntityType.IP and not shared:
        return None
    return first
