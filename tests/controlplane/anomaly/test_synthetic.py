"""The labelled synthetic access log: the export format exactly, the same data for the same seed,
realistic normal traffic, and attacks where the labels say."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from controlplane.access_log.records import FIELD_NAMES, AccessRecord
from controlplane.anomaly import synthetic
from controlplane.anomaly.detection import DETECTORS, load_jsonl
from controlplane.anomaly.evaluation import parse_labels
from tests.controlplane.anomaly.detection import datasets


def sample(events: pd.DataFrame) -> pd.DataFrame:
    """Refused and failed requests, and one in a hundred of the rest (embeddings among them)."""
    keep = (events["status"] != 200) | (np.arange(len(events)) % 100 == 0)
    return events[keep].reset_index(drop=True)


def test_lines_are_the_export_format_exactly(tmp_path: Path) -> None:
    events = sample(datasets.labelled().events)
    path = tmp_path / "events.jsonl"

    written = synthetic.write_events(events, path)

    lines = path.read_text().splitlines()
    assert written == len(lines) == len(events)
    assert events["tokens_out"].isna().any()  # embeddings and failures: nulls are written too
    for line in lines:
        assert list(json.loads(line)) == list(FIELD_NAMES)
        assert AccessRecord.from_json(line).to_json_line() == line
    loaded = load_jsonl(path)
    assert loaded.malformed == []
    pd.testing.assert_frame_equal(loaded.frame.drop(columns="line"), events)


def test_write_puts_the_labels_beside_the_events(tmp_path: Path) -> None:
    dataset = synthetic.generate(5, days=1, agents=3, attacks=False)

    synthetic.write(dataset, tmp_path / "events.jsonl", tmp_path / "labels.json")

    assert json.loads((tmp_path / "labels.json").read_text()) == {
        "seed": 5,
        "window_seconds": 300,
        "attacks": [],
    }
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == len(dataset.events)
    assert [
        record["request_id"] for record in synthetic.iter_events(5, days=1, agents=3, attacks=False)
    ] == dataset.events["request_id"].tolist()


def test_the_same_seed_gives_the_same_dataset_and_another_seed_another() -> None:
    first = synthetic.generate(3, days=1, agents=8, attacks=False)
    again = synthetic.generate(3, days=1, agents=8, attacks=False)
    other = synthetic.generate(4, days=1, agents=8, attacks=False)

    pd.testing.assert_frame_equal(first.events, again.events)
    tokens = set(first.events["token_accessor"].dropna())
    assert tokens.isdisjoint(other.events["token_accessor"].dropna())


def test_attacks_are_added_where_the_labels_say_and_nowhere_else() -> None:
    labelled, clean = datasets.labelled(), datasets.clean(datasets.SEED)
    injected = labelled.events[~labelled.events["request_id"].isin(clean.events["request_id"])]

    assert len(labelled.events) - len(clean.events) == len(injected) > 0
    labels = parse_labels(labelled.labels)
    for label in labels:
        where = (injected["ts"] >= label.start) & (injected["ts"] < label.end)
        assert where.any(), label.id
    inside = np.zeros(len(injected), dtype=bool)
    for label in labels:
        inside |= ((injected["ts"] >= label.start) & (injected["ts"] < label.end)).to_numpy()
    assert inside.all()


def test_labels_cover_every_detector_with_well_formed_windows() -> None:
    labels = datasets.labelled().labels

    attacks = labels["attacks"]
    assert (labels["seed"], labels["window_seconds"]) == (datasets.SEED, 300)
    assert len({attack["id"] for attack in attacks}) == len(attacks)
    listed = {name for attack in attacks for name in attack["detectors"]}
    assert listed == {info.name for info in DETECTORS}
    for attack in attacks:
        assert attack["window_start"].endswith("Z")
        assert attack["window_end"].endswith("Z")
        assert attack["entity_type"] in {"token", "ip", "workspace", "agent"}
    windows = [(label.end - label.start).total_seconds() for label in parse_labels(labels)]
    assert all(seconds % 300 == 0 for seconds in windows)


def test_normal_traffic_looks_like_a_working_instance() -> None:
    events = datasets.clean(datasets.CLEAN_SEEDS[1]).events
    allowed = events[events["decision"] == "allow"]

    statuses = set(events["status"].unique())
    assert {200, 401, 403, 404, 429, 502} <= statuses
    assert events["token_accessor"].dropna().str.match(r"^acc_[0-9A-Za-z]{20}$").all()
    assert events["workspace_id"].dropna().str.match(r"^ws_[0-9a-z]{26}$").all()
    # Per agent and hour of the (UTC) day: quiet nights for most, silence outside office hours
    # for 9-to-5 tools, and a few round the clock.
    hourly = events.groupby(["agent_id", events["ts"].dt.hour]).size().unstack(fill_value=0)
    swing = hourly.max(axis=1) / hourly.min(axis=1).clip(lower=1)
    assert (swing >= 10).mean() > 0.5
    assert ((hourly == 0).sum(axis=1) >= 12).any()
    assert ((swing < 5) & (hourly > 0).all(axis=1)).any()
    per_agent = allowed.groupby("agent_id").agg(
        ips=("client_ip", "nunique"), models=("model", "nunique"), clients=("user_agent", "nunique")
    )
    assert per_agent["ips"].between(1, 5).all()
    assert (per_agent["models"] > 1).any()
    assert (per_agent["clients"] > 1).any()  # deploys bump the client version
    assert events["ts"].is_monotonic_increasing


def test_a_rate_target_scales_the_traffic() -> None:
    dataset = synthetic.generate(9, days=2, agents=10, attacks=False, events=40_000)

    assert 30_000 < len(dataset.events) < 50_000


def test_attacks_need_a_few_days_of_history() -> None:
    with pytest.raises(ValueError, match="at least 4 days"):
        synthetic.generate(1, days=3, agents=30)
