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
from controlplane.anomaly.detection.grouping import Ints
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
    alerts = [alert for found in findings for alert in _alerts(found, events)]
    return ScanResult(alerts, learn(state, events, windows), len(frame))


def _alerts(found: Findings, events: Events) -> list[Alert]:
    support, table = found.support, found.alerts
    if support.empty:
        return []
    count = len(table)
    rows = support["row"].to_numpy(dtype=np.intp)
    alert = support["alert"].to_numpy(dtype=np.int64)
    fresh = np.bincount(alert[events.is_new[rows]], minlength=count) > 0
    counts = np.bincount(alert, minlength=count)
    # Rows in time order within each alert (the frame is sorted by ts).
    order = np.lexsort((rows, alert))
    kept = pd.DataFrame({"row": rows[order], "alert": alert[order]})
    kept = kept.groupby("alert").head(events.config.max_evidence)
    evidence = evidence_rows(events.frame.iloc[kept["row"].to_numpy()])
    by_alert: dict[int, list[dict[str, Any]]] = {}
    for number, record in zip(kept["alert"].tolist(), evidence, strict=True):
        by_alert.setdefault(number, []).append(record)
    first_workspace, shared = _workspaces(events.frame["workspace_id"].iloc[rows], alert, count)
    span = timedelta(seconds=events.config.window_seconds)
    values = {name: table[name].tolist() for name in ALERT_COLUMNS}
    result = []
    for number in np.flatnonzero(fresh).tolist():
        start = _EPOCH + span * int(values["window"][number])
        entity_type = EntityType(values["entity_type"][number])
        entity = str(values["entity"][number])
        workspace = (
            first_workspace[number] if shared[number] or entity_type is not EntityType.IP else None
        )
        token = values["token_accessor"][number]
        result.append(
            Alert(
                detector=found.detector,
                severity=Severity(values["severity"][number]),
                entity_type=entity_type,
                entity=entity,
                workspace_id=_workspace(entity_type, entity, workspace),
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
    workspace: "pd.Series[str]", alert: Ints, count: int
) -> tuple[list[str | None], list[bool]]:
    """Per alert: the workspace of its first row, and whether every row has that one."""
    grouped = workspace.reset_index(drop=True).groupby(alert)
    first = grouped.first().reindex(range(count))
    one = (grouped.nunique() == 1) & (grouped.count() == grouped.size())
    names: list[str | None] = [None if pd.isna(name) else str(name) for name in first.tolist()]
    return names, one.reindex(range(count), fill_value=False).astype(bool).tolist()


def _workspace(entity_type: EntityType, entity: str, workspace: str | None) -> str | None:
    """The workspace an alert belongs to: the token's or agent's own; for an IP, the one every
    supporting row shares (else none); for credential stuffing, the workspace itself."""
    if entity_type is EntityType.WORKSPACE:
        return None if entity == WHOLE_INSTANCE else entity
    return workspace
