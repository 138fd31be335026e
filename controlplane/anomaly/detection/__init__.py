"""Anomaly detection over access-log records: vectorised detectors, baselines, alerts.

    loaded = load_jsonl(path)                      # or frame_from_records(rows)
    result = scan(loaded.frame, Baselines.empty(), DetectionConfig())
    result.alerts, result.baselines.to_json()

See `engine` for how scans chain (incremental scans, open windows), `detectors` for what each
detector looks for, and `config` for every threshold.
"""

from controlplane.anomaly.detection.alerts import Alert, DetectorInfo, EntityType, Severity
from controlplane.anomaly.detection.baselines import Baselines
from controlplane.anomaly.detection.config import DetectionConfig
from controlplane.anomaly.detection.detectors import DETECTORS
from controlplane.anomaly.detection.engine import ScanResult, scan
from controlplane.anomaly.detection.frame import frame_from_records
from controlplane.anomaly.detection.jsonl import LoadedEvents, Malformed, load_jsonl

__all__ = [
    "DETECTORS",
    "Alert",
    "Baselines",
    "DetectionConfig",
    "DetectorInfo",
    "EntityType",
    "LoadedEvents",
    "Malformed",
    "ScanResult",
    "Severity",
    "frame_from_records",
    "load_jsonl",
    "scan",
]
