"""Precision and recall against labels, by the definitions in the module's docstring."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controlplane.anomaly.detection import Alert, EntityType, Severity
from controlplane.anomaly.evaluation import evaluate

T0 = datetime(2026, 11, 4, 12, tzinfo=UTC)
FIVE = timedelta(minutes=5)
STOLEN = "acc_" + "S" * 20
QUIET = "acc_" + "Q" * 20


def alert(detector: str, entity: str, start: datetime, entity_type: str = "token") -> Alert:
    return Alert(
        detector=detector,
        severity=Severity.HIGH,
        entity_type=EntityType(entity_type),
        entity=entity,
        workspace_id=None,
        token_accessor=None,
        window_start=start,
        window_end=start + FIVE,
        score=1.0,
        evidence_count=1,
        explanation="",
        evidence=(),
    )


def label(
    id_: str,
    detectors: list[str],
    entity: str,
    start: datetime,
    minutes: int = 5,
    entity_type: str = "token",
) -> dict[str, Any]:
    return {
        "id": id_,
        "kind": id_,
        "detectors": detectors,
        "entity_type": entity_type,
        "entity": entity,
        "window_start": start.isoformat().replace("+00:00", "Z"),
        "window_end": (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
    }


LABELS = {
    "seed": 7,
    "window_seconds": 300,
    "attacks": [
        label("stolen", ["new_network", "rate_spike"], STOLEN, T0),
        label("night", ["off_hours"], QUIET, T0 + timedelta(hours=1), minutes=30),
        label("guessing", ["auth_failure_burst"], "203.0.113.66", T0, entity_type="ip"),
    ],
}


def test_hits_need_the_same_entity_and_overlapping_windows() -> None:
    alerts = [
        alert("new_network", STOLEN, T0),  # hit
        alert("many_ips", STOLEN, T0),  # a hit too, though the label does not list many_ips
        alert("off_hours", QUIET, T0 + timedelta(minutes=85)),  # inside the 30-minute label
        alert("rate_spike", STOLEN, T0 + FIVE),  # starts where the label ends: no overlap
        alert("rate_spike", QUIET, T0),  # another entity's label: no
        alert("auth_failure_burst", "203.0.113.66", T0, entity_type="token"),  # wrong type
    ]

    result = evaluate(alerts, LABELS)

    assert result.overall.alerts == 6
    assert result.overall.hits == 3
    assert result.overall.precision == 0.5
    assert (result.overall.labels, result.overall.found) == (3, 2)
    assert result.overall.recall == pytest.approx(2 / 3)
    assert result.missed == ["guessing"]
    by = result.detectors
    assert (by["new_network"].precision, by["new_network"].recall) == (1.0, 1.0)
    assert (by["rate_spike"].precision, by["rate_spike"].recall) == (0.0, 0.0)
    assert (by["many_ips"].precision, by["many_ips"].recall) == (1.0, None)
    assert (by["off_hours"].hits, by["off_hours"].found) == (1, 1)
    assert (by["auth_failure_burst"].alerts, by["auth_failure_burst"].recall) == (1, 0.0)
    assert (by["exfiltration"].precision, by["exfiltration"].recall) == (None, None)


def test_the_report_forms() -> None:
    result = evaluate([alert("new_network", STOLEN, T0)], LABELS)

    rows = result.rows()
    assert rows[-1]["detector"] == "overall"
    assert [row["detector"] for row in rows[:3]] == ["rate_spike", "new_network", "many_ips"]
    assert rows[1] == {
        "detector": "new_network",
        "alerts": 1,
        "hits": 1,
        "precision": "1.000",
        "labels": 1,
        "found": 1,
        "recall": "1.000",
    }
    assert rows[2]["precision"] == "-"
    data = json.loads(json.dumps(result.to_dict()))
    assert data["overall"]["recall"] == pytest.approx(1 / 3)
    assert data["missed"] == ["night", "guessing"]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([], 'a JSON object with an "attacks" list'),
        ({"seed": 7}, 'a JSON object with an "attacks" list'),
        ({"attacks": ["stolen"]}, "attack 1 is not an object"),
        ({"attacks": [{**label("x", [], STOLEN, T0), "entity": None}]}, "'entity' is missing"),
        ({"attacks": [{**label("x", [], STOLEN, T0), "detectors": "rate_spike"}]}, "list of"),
        ({"attacks": [{**label("x", [], STOLEN, T0), "window_end": "soon"}]}, "not an ISO 8601"),
        ({"attacks": [label("x", [], STOLEN, T0, minutes=0)]}, "must come after"),
    ],
)
def test_labels_of_the_wrong_shape_are_a_clear_value_error(labels: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate([], labels)
