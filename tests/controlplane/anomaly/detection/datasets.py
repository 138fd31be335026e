"""The synthetic datasets the detection tests share, built once per test run (they take about a
second each): a few days and about thirty agents, as the generator's smallest useful size."""

from functools import cache

from controlplane.anomaly import synthetic
from controlplane.anomaly.detection import Alert, Baselines, DetectionConfig, scan

SEED = 7
# The labelled seed's own normal traffic, and another instance's.
CLEAN_SEEDS = (SEED, 12)
DAYS = 4
AGENTS = 30


@cache
def labelled() -> synthetic.Dataset:
    return synthetic.generate(SEED, days=DAYS, agents=AGENTS)


@cache
def labelled_alerts() -> tuple[Alert, ...]:
    return tuple(scan(labelled().events, Baselines.empty(), DetectionConfig()).alerts)


@cache
def clean(seed: int) -> synthetic.Dataset:
    return synthetic.generate(seed, days=DAYS, agents=AGENTS, attacks=False)
