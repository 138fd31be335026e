"""How well the detectors find labelled attacks: precision and recall, per detector and overall.

Definitions:

- An alert **hits** a label when it names the label's entity (the same `entity_type` and
  `entity`) and its window overlaps the label's window (the half-open intervals
  `[window_start, window_end)` intersect).
- **Precision** of a detector D: the share of D's alerts that hit some label. Overall
  precision: the share of all alerts that hit some label. An alert on the same entity and
  window as an attack counts as a hit even when its detector is not among the label's
  `detectors` (a stolen token's burst is also a rate spike).
- **Recall** of a detector D: the share of the labels listing D in `detectors` that are hit by
  at least one alert of D. Overall recall: the share of labels hit by at least one alert.
- With no alerts, precision is undefined (None); with no labels for D, so is D's recall.

The labels are the JSON that `controlplane.anomaly.synthetic.write` produces:
`{"attacks": [{"id", "kind", "detectors", "entity_type", "entity", "window_start",
"window_end"}, ...]}` (other keys are ignored).
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from controlplane.anomaly.detection import DETECTORS, Alert
from controlplane.kit.clock import as_utc


@dataclass(frozen=True)
class Label:
    id: str
    detectors: tuple[str, ...]
    entity_type: str
    entity: str
    start: datetime
    end: datetime

    def hit_by(self, alert: Alert) -> bool:
        return (
            alert.entity_type.value == self.entity_type
            and alert.entity == self.entity
            and alert.window_start < self.end
            and self.start < alert.window_end
        )


@dataclass(frozen=True)
class Score:
    alerts: int  # alerts raised
    hits: int  # of those, alerts that hit a label
    labels: int  # labels expecting this detector (overall: all labels)
    found: int  # of those, labels hit
    precision: float | None
    recall: float | None


@dataclass(frozen=True)
class Evaluation:
    overall: Score
    detectors: dict[str, Score]
    missed: list[str]  # ids of the labels no alert hit

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": asdict(self.overall),
            "detectors": {name: asdict(score) for name, score in self.detectors.items()},
            "missed": list(self.missed),
        }

    def rows(self) -> list[dict[str, Any]]:
        """One row per detector, then "overall": for tables."""
        scores = [*self.detectors.items(), ("overall", self.overall)]
        return [
            {
                "detector": name,
                "alerts": score.alerts,
                "hits": score.hits,
                "precision": _shown(score.precision),
                "labels": score.labels,
                "found": score.found,
                "recall": _shown(score.recall),
            }
            for name, score in scores
        ]


def evaluate(alerts: Sequence[Alert], labels: Mapping[str, Any]) -> Evaluation:
    expected = parse_labels(labels)
    hitting = [any(label.hit_by(alert) for label in expected) for alert in alerts]
    names = [info.name for info in DETECTORS]
    names += sorted({name for label in expected for name in label.detectors} - set(names))
    detectors = {}
    for name in names:
        own = [alert for alert in alerts if alert.detector == name]
        hits = sum(
            hit for alert, hit in zip(alerts, hitting, strict=True) if alert.detector == name
        )
        wanted = [label for label in expected if name in label.detectors]
        found = sum(any(label.hit_by(alert) for alert in own) for label in wanted)
        detectors[name] = _score(len(own), hits, len(wanted), found)
    found_labels = [label for label in expected if any(label.hit_by(alert) for alert in alerts)]
    overall = _score(len(alerts), sum(hitting), len(expected), len(found_labels))
    missed = [label.id for label in expected if label not in found_labels]
    return Evaluation(overall=overall, detectors=detectors, missed=missed)


def _score(alerts: int, hits: int, labels: int, found: int) -> Score:
    return Score(
        alerts=alerts,
        hits=hits,
        labels=labels,
        found=found,
        precision=hits / alerts if alerts else None,
        recall=found / labels if labels else None,
    )


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def parse_labels(labels: Mapping[str, Any]) -> list[Label]:
    """The labels' attacks; a ValueError saying what is wrong when the shape is not right."""
    if not isinstance(labels, Mapping) or not isinstance(labels.get("attacks"), list):
        raise ValueError('labels must be a JSON object with an "attacks" list')  # noqa: TRY004 - one error type for a bad labels file
    return [_label(number, attack) for number, attack in enumerate(labels["attacks"], start=1)]


def _label(number: int, attack: object) -> Label:
    where = f"attack {number}"
    if not isinstance(attack, Mapping):
        raise ValueError(f"{where} is not an object")  # noqa: TRY004 - one error type for a bad labels file
    for key in ("id", "entity_type", "entity", "window_start", "window_end"):
        if not isinstance(attack.get(key), str):
            raise ValueError(f"{where}: {key!r} is missing or not a string")  # noqa: TRY004 - one error type for a bad labels file
    detectors = attack.get("detectors")
    if not isinstance(detectors, list) or not all(isinstance(name, str) for name in detectors):
        raise ValueError(f"{where}: 'detectors' must be a list of detector names")
    start, end = _time(where, attack, "window_start"), _time(where, attack, "window_end")
    if end <= start:
        raise ValueError(f"{where}: window_end must come after window_start")
    return Label(
        id=attack["id"],
        detectors=tuple(detectors),
        entity_type=attack["entity_type"],
        entity=attack["entity"],
        start=start,
        end=end,
    )


def _time(where: str, attack: Mapping[str, Any], key: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(attack[key]))
    except ValueError:
        raise ValueError(f"{where}: {key} is not an ISO 8601 time") from None
