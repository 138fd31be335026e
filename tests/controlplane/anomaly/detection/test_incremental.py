"""Scans that chain: the database job scans only the new events each minute, with the baselines
the previous scan returned (stored as JSON in between)."""

import itertools
import json
from collections.abc import Iterable
from datetime import timedelta

import numpy as np
import pandas as pd

from controlplane.anomaly.detection import Alert, Baselines, DetectionConfig, scan
from controlplane.anomaly.evaluation import parse_labels
from tests.controlplane.anomaly.detection import datasets
from tests.controlplane.anomaly.detection.records import NOON, WINDOW, frame, refused

CONFIG = DetectionConfig()


def scan_in_pieces(pieces: Iterable[pd.DataFrame], config: DetectionConfig = CONFIG) -> list[Alert]:
    """Every piece in turn, baselines through JSON; the last report of each key wins (upsert)."""
    baselines = Baselines.empty()
    latest: dict[tuple[object, ...], Alert] = {}
    for piece in pieces:
        result = scan(piece, baselines, config)
        baselines = Baselines.from_json(json.loads(json.dumps(result.baselines.to_json())))
        latest.update((alert.key(), alert) for alert in result.alerts)
    return list(latest.values())


def test_ten_pieces_find_what_one_scan_finds() -> None:
    events = datasets.labelled().events
    cuts = np.linspace(0, len(events), 11).astype(int)
    pieces = [events.iloc[start:end] for start, end in itertools.pairwise(cuts)]

    whole = {alert.key(): alert for alert in datasets.labelled_alerts()}
    chunked = {alert.key(): alert for alert in scan_in_pieces(pieces)}

    labels = parse_labels(datasets.labelled().labels)
    attacks = {key for key, alert in whole.items() if any(label.hit_by(alert) for label in labels)}
    assert attacks
    assert attacks <= chunked.keys()
    # Stronger, by design: a window is judged only against what came before it, so every alert
    # (count, score, severity, evidence) is the same however the events were cut.
    assert {key: alert.to_dict() for key, alert in chunked.items()} == {
        key: alert.to_dict() for key, alert in whole.items()
    }


def test_a_burst_split_across_two_scans_is_one_alert_with_its_full_count() -> None:
    attempts = refused(NOON, 50, client_ip="198.51.100.7")
    first, second = frame(attempts[:25]), frame(attempts[25:])

    result = scan(first, Baselines.empty(), CONFIG)
    again = scan(second, result.baselines, CONFIG)

    (early,), (late,) = result.alerts, again.alerts
    assert early.key() == late.key()
    assert (early.evidence_count, late.evidence_count) == (25, 50)
    assert [alert.evidence_count for alert in scan_in_pieces([first, second])] == [50]
    # The evidence is the window's first rows, whichever scan brought them.
    assert [row["request_id"] for row in late.evidence] == [
        row["request_id"] for row in attempts[: CONFIG.max_evidence]
    ]


def test_a_window_is_reported_again_only_when_new_events_support_it() -> None:
    first = frame(refused(NOON, 25, client_ip="198.51.100.7"))
    elsewhere = frame(refused(NOON + WINDOW, 3, client_ip="192.0.2.1"))

    result = scan(first, Baselines.empty(), CONFIG)
    later = scan(elsewhere, result.baselines, CONFIG)

    assert len(result.alerts) == 1
    assert later.alerts == []


def test_late_events_are_judged_in_their_own_window_against_the_state_as_it_is() -> None:
    now = frame(refused(NOON + 6 * WINDOW, 3, client_ip="192.0.2.1"))
    # Half an hour late: that window closed (and was learned) long ago.
    late = frame(refused(NOON, 20, client_ip="198.51.100.7"))

    result = scan(late, scan(now, Baselines.empty(), CONFIG).baselines, CONFIG)

    (alert,) = result.alerts
    assert (alert.window_start, alert.evidence_count) == (NOON, 20)
    assert result.baselines.open_events["ts"].min() >= NOON + 5 * WINDOW


def test_an_empty_scan_changes_nothing() -> None:
    baselines = scan(frame(refused(NOON, 3)), Baselines.empty(), CONFIG).baselines

    result = scan(frame([]), baselines, CONFIG)

    assert (result.alerts, result.events, result.baselines) == ([], 0, baselines)


def test_baselines_learned_with_another_window_size_are_set_aside() -> None:
    events = frame(refused(NOON, 25, client_ip="198.51.100.7"))
    baselines = scan(events, Baselines.empty(), CONFIG).baselines
    hourly = DetectionConfig.with_overrides({"window_seconds": 3600})

    result = scan(frame(refused(NOON + timedelta(hours=1), 2)), baselines, hourly)

    # The carried five-minute windows were dropped with the rest: only the new events remain.
    assert result.baselines.window_seconds == 3600
    assert len(result.baselines.open_events) == 2
