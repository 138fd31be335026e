"""What one detector hands the engine: a table of alerts and the rows that support each.

The engine turns these into `Alert`s: the support rows give the evidence count, the evidence
rows (the first `max_evidence` in time order) and the alert's workspace.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from controlplane.anomaly.detection.grouping import Flags, Ints, Objects, Positions

# One row per alert. severity is a Severity value, entity_type an EntityType value, window the
# window number; token_accessor is the live token to act on, or None.
ALERT_COLUMNS = (
    "entity_type",
    "entity",
    "window",
    "severity",
    "score",
    "explanation",
    "token_accessor",
)


@dataclass(frozen=True)
class Findings:
    detector: str
    alerts: pd.DataFrame  # ALERT_COLUMNS, index 0..k-1 (the alert id)
    support: pd.DataFrame  # columns row (position in Events.frame) and alert (id)


def nothing(detector: str) -> Findings:
    alerts = pd.DataFrame({column: [] for column in ALERT_COLUMNS})
    return Findings(detector, alerts, pd.DataFrame({"row": [], "alert": []}, dtype="int64"))


def from_groups(detector: str, fired: pd.DataFrame, rows: Positions, codes: Ints) -> Findings:
    """Alerts for the groups in `fired` (indexed by group code), supported by every row of
    `rows` whose group code (`codes`, aligned with `rows`) fired."""
    if fired.empty:
        return nothing(detector)
    alert_of = pd.Series(np.arange(len(fired)), index=fired.index)
    supporting = np.isin(codes, fired.index.to_numpy())
    support = pd.DataFrame(
        {"row": rows[supporting], "alert": alert_of.reindex(codes[supporting]).to_numpy()}
    )
    return Findings(detector, fired.reset_index(drop=True)[list(ALERT_COLUMNS)], support)


def window_text(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "1 hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} seconds"


def severities(default: str, rules: Sequence[tuple[Flags, str]]) -> Objects:
    """`default`, replaced by the severity of the last rule whose condition holds."""
    result = np.full(len(rules[0][0]), default, dtype=object)
    for condition, severity in rules:
        result[np.asarray(condition, dtype=bool)] = severity
    return result
