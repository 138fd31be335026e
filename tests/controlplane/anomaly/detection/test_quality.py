"""The detectors against the labelled synthetic dataset (fixed seed): recall and precision
floors, every detector alive, and no alert at all on clean traffic."""

import pytest

from controlplane.anomaly.detection import DETECTORS, Baselines, DetectionConfig, scan
from controlplane.anomaly.evaluation import Evaluation, evaluate
from tests.controlplane.anomaly.detection import datasets


def _table(result: Evaluation) -> str:
    return "\n".join(
        f"{row['detector']:>20}  alerts {row['alerts']:>3}  hits {row['hits']:>3}  "
        f"precision {row['precision']:>5}  labels {row['labels']:>2}  found {row['found']:>2}  "
        f"recall {row['recall']:>5}"
        for row in result.rows()
    )


def test_recall_and_precision_on_the_labelled_dataset() -> None:
    result = evaluate(datasets.labelled_alerts(), datasets.labelled().labels)

    report = f"\n{_table(result)}\nmissed: {result.missed}"
    assert (result.overall.recall or 0.0) >= 0.9, report
    assert (result.overall.precision or 0.0) >= 0.8, report


def test_every_detector_fires_on_one_of_its_labels() -> None:
    result = evaluate(datasets.labelled_alerts(), datasets.labelled().labels)

    dead = [info.name for info in DETECTORS if result.detectors[info.name].found < 1]
    assert dead == [], f"\n{_table(result)}"


@pytest.mark.parametrize("seed", datasets.CLEAN_SEEDS)
def test_clean_traffic_raises_no_alert(seed: int) -> None:
    dataset = datasets.clean(seed)

    alerts = scan(dataset.events, Baselines.empty(), DetectionConfig()).alerts

    assert dataset.labels["attacks"] == []
    assert alerts == [], "\n".join(f"{a.detector}: {a.explanation}" for a in alerts)
