"""Baselines: a JSON round trip that changes nothing, and a size that does not grow forever."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest

from controlplane.anomaly.detection import Baselines, DetectionConfig, scan
from tests.controlplane.anomaly.detection import datasets
from tests.controlplane.anomaly.detection.records import (
    MONDAY,
    NOON,
    OTHER_TOKEN,
    TOKEN,
    WINDOW,
    burst,
    frame,
    windows,
)


def round_trip(baselines: Baselines) -> Baselines:
    return Baselines.from_json(json.loads(json.dumps(baselines.to_json())))


def test_the_json_round_trip_loses_nothing() -> None:
    events = datasets.labelled().events
    half = len(events) // 2
    first = scan(events.iloc[:half], Baselines.empty(), DetectionConfig()).baselines

    again = round_trip(first)

    assert (again.window_seconds, again.watermark_us) == (300, first.watermark_us)
    for name, table in first.tables.items():
        pd.testing.assert_frame_equal(again.tables[name], table, obj=name)
    pd.testing.assert_frame_equal(again.open_events, first.open_events)
    assert again.to_json() == first.to_json()
    rest = events.iloc[half : half + 10_000]  # the next minutes, as the database job sees them
    from_memory = scan(rest, first, DetectionConfig()).alerts
    from_json = scan(rest, again, DetectionConfig()).alerts
    assert [alert.to_dict() for alert in from_json] == [alert.to_dict() for alert in from_memory]


def test_empty_baselines_survive_the_round_trip() -> None:
    assert round_trip(Baselines.empty()).to_json() == Baselines.empty().to_json()


def test_state_is_capped_per_token_and_idle_tokens_are_forgotten() -> None:
    config = DetectionConfig.with_overrides(
        {"history_windows": 10, "max_known_items": 3, "idle_days": 1, "max_open_events": 4}
    )
    # TOKEN: 30 windows from 6 networks (the last three newest); OTHER_TOKEN: once, days ago.
    roaming = [
        r
        for index in range(30)
        for r in burst(
            MONDAY + timedelta(days=3) + index * WINDOW, 3, client_ip=f"10.9.{index // 5}.1"
        )
    ]
    forgotten = burst(MONDAY, 3, token_accessor=OTHER_TOKEN)

    state = scan(frame(forgotten, roaming), Baselines.empty(), config).baselines

    tables = state.tables
    assert set(tables["tokens"]["token"]) == {TOKEN}
    assert set(tables["history"]["token"]) == {TOKEN}
    assert len(tables["history"]) == 10
    networks = tables["networks"]
    assert networks["item"].tolist() == ["10.9.3.0/24", "10.9.4.0/24", "10.9.5.0/24"]
    assert len(state.open_events) == 4
    size = len(json.dumps(state.to_json()))
    longer = [
        r for index in range(300) for r in burst(NOON + timedelta(days=3) + index * WINDOW, 1)
    ]
    grown = scan(frame(longer), state, config).baselines
    assert len(grown.tables["history"]) == 10
    assert len(grown.open_events) == 2  # one request in each of the two open windows
    assert len(json.dumps(grown.to_json())) < 2 * size


def test_closed_windows_are_learned_and_open_ones_carried() -> None:
    two_hours = windows(NOON, 24, 4)

    state = scan(frame(two_hours), Baselines.empty(), DetectionConfig()).baselines

    tokens = state.tables["tokens"]
    # Two open windows are carried, not learned yet.
    assert tokens["events"].tolist() == [22 * 4]
    assert state.tables["history"]["requests"].tolist() == [4] * 22
    assert len(state.open_events) == 2 * 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda data: data.update(version=99), "version 99"),
        (lambda data: data["tables"].pop("history"), "malformed"),
        (lambda data: data.update(watermark_us="soon"), "not an integer"),
        (lambda data: data["open_events"].append({"ts": "never"}), "no valid ts"),
    ],
)
def test_malformed_baselines_are_a_value_error(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = scan(frame(burst(NOON, 3)), Baselines.empty(), DetectionConfig()).baselines.to_json()
    change(data)

    with pytest.raises(ValueError, match=message):
        Baselines.from_json(data)
