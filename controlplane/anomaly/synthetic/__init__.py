"""A labelled synthetic access log: realistic agents, plus attacks at known places.

    dataset = generate(seed=7, days=7, agents=40)       # attacks=False: normal traffic only
    write(dataset, Path("events.jsonl"), Path("labels.json"))

The events are the access log's export format (exactly the record's fields, in order, one JSON
object per line, sorted by ts). The labels say where each injected attack is:

    {"seed": 7, "window_seconds": 300, "attacks": [{"id": "01-stolen_token",
      "kind": "stolen_token", "detectors": ["new_network", "rate_spike"],
      "entity_type": "token", "entity": "acc_...", "window_start": "...Z",
      "window_end": "...Z"}, ...]}

The same seed gives the same dataset; `attacks=False` gives the same normal traffic without the
injections. Generation is numpy, a minute at a time per agent: a million events take about ten
seconds on two cores, and writing them as JSON lines about as long again.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from controlplane.access_log.records import iso
from controlplane.anomaly.detection.frame import evidence_rows, normalise
from controlplane.anomaly.synthetic.attacks import Setting, inject
from controlplane.anomaly.synthetic.population import population
from controlplane.anomaly.synthetic.traffic import DAY_MINUTES, agent_events, intensity, joined
from controlplane.kit.clock import as_utc

DEFAULT_START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
MIN_DAYS_WITH_ATTACKS = 4
_CHUNK = 50_000
# The export's encoding (`AccessRecord.to_json_line`): compact separators, non-ASCII escaped.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class Dataset:
    events: pd.DataFrame  # the detectors' frame (see detection.frame), sorted by ts
    labels: dict[str, Any]


def generate(
    seed: int = 7,
    *,
    days: int = 7,
    agents: int = 40,
    attacks: bool = True,
    start: datetime | None = None,
    events: int | None = None,
    window_seconds: int = 300,
) -> Dataset:
    """`agents` agents over `days` days from `start` (midnight UTC of that day; a Monday by
    default). `events` scales the agents' rates so that about that many events come out."""
    if days < 1 or agents < 1:
        raise ValueError("days and agents must be at least 1")
    if attacks and days < MIN_DAYS_WITH_ATTACKS:
        raise ValueError(f"attacks need at least {MIN_DAYS_WITH_ATTACKS} days of history")
    rng = np.random.default_rng(seed)
    first_day = as_utc(start or DEFAULT_START).date()
    first_minute = (first_day - datetime(1970, 1, 1, tzinfo=UTC).date()).days * DAY_MINUTES
    people = population(rng, agents)
    levels = {
        agent.index: intensity(agent, rng, first_minute, days * DAY_MINUTES) for agent in people
    }
    expected = sum(agent.peak_per_minute * levels[agent.index].sum() for agent in people)
    scale = events / expected if events else 1.0
    frames = [
        agent_events(agent, rng, first_minute, levels[agent.index], scale) for agent in people
    ]
    labels: list[dict[str, Any]] = []
    if attacks:
        setting = Setting(
            people, levels, rng, first_minute, days, window_seconds * 1_000_000, scale
        )
        for number, attack in enumerate(inject(setting), start=1):
            frames.append(attack.events)
            labels.append(
                {
                    "id": f"{number:02d}-{attack.kind}",
                    "kind": attack.kind,
                    "detectors": list(attack.detectors),
                    "entity_type": attack.entity_type,
                    "entity": attack.entity,
                    "window_start": _iso(attack.start_us),
                    "window_end": _iso(attack.end_us),
                }
            )
    columns = joined(frames)
    # Sorted while still numpy columns: reordering pandas string columns costs far more.
    order = np.argsort(columns["ts"].astype(np.int64), kind="stable")
    ts = pd.to_datetime(columns["ts"][order].astype(np.int64), unit="us", utc=True)
    raw = pd.DataFrame({**{name: values[order] for name, values in columns.items()}, "ts": ts})
    frame, _ = normalise(raw)
    return Dataset(
        events=frame,
        labels={"seed": seed, "window_seconds": window_seconds, "attacks": labels},
    )


def _iso(micros: int) -> str:
    return iso(datetime.fromtimestamp(micros // 1_000_000, UTC))


def iter_events(seed: int = 7, **options: Any) -> Iterator[dict[str, Any]]:
    """The events of `generate(seed, **options)` as export records, a chunk at a time."""
    yield from _records(generate(seed, **options).events)


def _records(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    for begin in range(0, len(frame), _CHUNK):
        yield from evidence_rows(frame.iloc[begin : begin + _CHUNK])


def write_events(frame: pd.DataFrame, path: Path) -> int:
    """Write `frame`'s events in the export format; returns how many."""
    with path.open("w", encoding="utf-8") as out:
        for begin in range(0, len(frame), _CHUNK):
            rows = evidence_rows(frame.iloc[begin : begin + _CHUNK])
            out.write("".join(_ENCODER.encode(row) + "\n" for row in rows))
    return len(frame)


def write(dataset: Dataset, events_path: Path, labels_path: Path) -> None:
    write_events(dataset.events, events_path)
    labels_path.write_text(json.dumps(dataset.labels, indent=2) + "\n", encoding="utf-8")
