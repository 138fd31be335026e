"""Normal traffic for one agent, generated with numpy a minute at a time.

The shape of a working instance: daily and weekly rhythms per schedule, days busier or quieter
than others, ten-minute swings, batch jobs at a few times the usual rate, deploys (a short
burst, a new client version, sometimes a new address in the same network), a token rotated
midway now and then, retries after 429s and 5xx, a rare mistyped token from the agent's own
address, rare 403s and 404s.

Events are built as plain numpy columns (`Columns`, ts in epoch microseconds) and become one
DataFrame at the end: pandas string columns are costly to build piece by piece.
"""

from typing import Any

import numpy as np

from controlplane.access_log.records import FIELD_NAMES
from controlplane.anomaly.synthetic.population import (
    LIST_PATHS,
    MODELS,
    Agent,
    Rng,
    Schedule,
    user_agent,
)

Array = np.ndarray[Any, Any]
Columns = dict[str, Array]

MINUTE_US = 60_000_000
DAY_MINUTES = 1440


def intensity(agent: Agent, rng: Rng, first_minute: int, minutes: int) -> Array:
    """Relative activity per minute (1.0: a working day's peak), before batch jobs."""
    local = np.arange(first_minute, first_minute + minutes) + agent.utc_offset * 60
    day, minute_of_day = np.divmod(local, DAY_MINUTES)
    hour = minute_of_day / 60
    weekday = (day + 3) % 7 < 5  # day 0 of the epoch was a Thursday
    first_day = int(day[0])
    days = int(day[-1]) - first_day + 1
    if agent.schedule is Schedule.OFFICE:
        # A person's tool: starts between 9:00 and 9:30, stops between 16:30 and 17:00.
        starts = rng.integers(540, 571, size=days)[day - first_day]
        ends = rng.integers(990, 1021, size=days)[day - first_day]
        level = np.where(weekday & (minute_of_day >= starts) & (minute_of_day < ends), 1.0, 0.0)
    elif agent.schedule is Schedule.BUSINESS:
        workday = np.select(
            [(hour >= 8) & (hour < 19), (hour >= 6) & (hour < 22)], [1.0, 0.3], default=0.05
        )
        weekend = np.where((hour >= 9) & (hour < 18), 0.2, 0.05)
        level = np.where(weekday, workday, weekend)
    else:
        level = 0.7 + 0.3 * np.cos(2 * np.pi * (hour - 14) / 24)
    daily = rng.lognormal(0.0, 0.2, size=days)[day - first_day]
    swings = rng.gamma(11.0, 1 / 11.0, size=minutes // 10 + 1)[np.arange(minutes) // 10]
    return np.asarray(level * daily * swings, dtype=np.float64)


def _busy_minutes(level: Array, rng: Rng, count: int) -> Array:
    """`count` minutes after the first day where the agent works at least at 70% of its peak."""
    busy = np.flatnonzero(level >= 0.7)
    busy = busy[busy >= DAY_MINUTES]
    if count == 0 or not busy.size:
        return np.zeros(0, dtype=np.int64)
    return np.sort(rng.choice(busy, size=count))


def agent_events(agent: Agent, rng: Rng, first_minute: int, base: Array, scale: float) -> Columns:
    """The agent's requests over the minutes of `base` (its `intensity`)."""
    minutes = base.size
    days = minutes / DAY_MINUTES
    # Batch jobs: one to three peaks' worth of extra requests for 10 to 40 minutes, on top of
    # the ordinary traffic (a job runs at its own pace; overlapping ones do not stack), and
    # only while the agent is at work (a 9-to-5 tool's job stops when its owner leaves).
    batch = np.zeros(minutes)
    for start in _busy_minutes(base, rng, rng.poisson(0.6 * days)):
        span = slice(start, start + rng.integers(10, 41))
        batch[span] = np.maximum(batch[span], rng.uniform(1.0, 3.0))
    level = base + np.where(base > 0, batch, 0.0)
    deploys = _busy_minutes(level, rng, rng.poisson(0.2 * days))
    expected = level * agent.peak_per_minute * scale
    expected[deploys] += rng.integers(5, 16, size=deploys.size)  # restart: a short burst
    counts = rng.poisson(expected)
    minute = np.repeat(np.arange(minutes), counts)
    ts = (first_minute + minute) * MINUTE_US + rng.integers(0, MINUTE_US, size=minute.size)
    ts.sort()
    requests = _requests(agent, rng, ts, (first_minute + deploys) * MINUTE_US)
    return joined([requests, _mistyped_tokens(agent, rng, level, first_minute)])


def _requests(agent: Agent, rng: Rng, ts: Array, deploy_us: Array) -> Columns:
    size = ts.size
    # Some deploys move the agent to another address in its network, for good.
    moved = rng.random(deploy_us.size) < 0.3
    moved_at = deploy_us[moved][0] if moved.any() else np.iinfo(np.int64).max
    ip_index = rng.choice(len(agent.ips), size=size, p=agent.ip_shares)
    ips = np.array(agent.ips, dtype=object)[ip_index]
    ips[(ip_index == 0) & (ts >= moved_at)] = agent.spare_ip
    clients = [user_agent(agent, count) for count in range(deploy_us.size + 1)]
    deployed = np.searchsorted(deploy_us, ts, side="right")
    chosen = rng.choice(len(agent.models), size=size, p=agent.model_shares)
    table = np.array(MODELS, dtype=object)[np.array(agent.models)[chosen]]
    columns = requests_columns(
        rng,
        ts=ts,
        agent=agent,
        ip=ips,
        user_agent=np.array(clients, dtype=object)[deployed],
        model=table[:, 0],
        upstream=table[:, 1],
        path=table[:, 2],
        output_scale=table[:, 3].astype(np.float64),
    )
    if agent.rotated_to is not None and size:
        # A token rotation around the middle: the old token is never used again.
        middle = (ts[0] + ts[-1]) // 2 + rng.integers(-1, 2) * 3_600_000_000
        columns["token_accessor"][ts >= middle] = agent.rotated_to
    listing = rng.random(size) < 0.01
    home = MODELS[agent.models[0]][1]
    _set(columns, listing, method="GET", path=LIST_PATHS[home], model=None, upstream=home)
    return _with_failures(columns, rng)


def requests_columns(rng: Rng, *, ts: Array, agent: Agent, **values: Any) -> Columns:
    """Allowed 200 requests of `agent` with realistic sizes and latencies; `values` gives
    ip, user_agent, model, upstream, path (arrays or scalars) and output_scale."""
    size = ts.size
    scale = np.broadcast_to(np.asarray(values.pop("output_scale", 1.0), dtype=np.float64), size)
    embeddings = scale >= 2
    streamed = (rng.random(size) < 0.4) & ~embeddings
    bytes_in = rng.lognormal(np.log(1800), 0.8, size).astype(np.int64) + 200
    answer = rng.lognormal(np.log(3000), 0.9, size) * scale * np.where(streamed, 2, 1)
    bytes_out = answer.astype(np.int64) + 100
    latency = np.round(rng.lognormal(np.log(700), 0.6, size) * np.where(streamed, 3, 1), 3)
    tokens_out = (bytes_out // 5).astype(object)
    tokens_out[embeddings] = None  # embeddings report input tokens only
    return columns_of(
        size,
        ts=ts,
        request_id=request_ids(rng, size),
        token_accessor=agent.token_accessor,
        workspace_id=agent.workspace_id,
        agent_id=agent.agent_id,
        user_id=agent.user_id,
        client_ip=values["ip"],
        user_agent=values["user_agent"],
        method="POST",
        upstream=values["upstream"],
        path=values["path"],
        model=values["model"],
        status=200,
        decision="allow",
        latency_ms=latency,
        ttfb_ms=np.round(latency * rng.uniform(0.1, 0.9, size), 3),
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        tokens_in=bytes_in // 4,
        tokens_out=tokens_out,
        streamed=streamed,
    )


def _with_failures(columns: Columns, rng: Rng) -> Columns:
    """Turn a few requests into 429s, upstream 5xx (each followed by a successful retry),
    403s and 404s."""
    draw = rng.random(columns["ts"].size)
    limited, upstream_error = draw < 0.004, (draw >= 0.004) & (draw < 0.007)
    forbidden, missing = (draw >= 0.007) & (draw < 0.0075), (draw >= 0.0075) & (draw < 0.008)
    retried = limited | upstream_error
    retries = {name: values[retried].copy() for name, values in columns.items()}
    # A 429 is retried after its Retry-After (up to a minute), a 5xx after a second or so.
    wait = np.where(
        limited[retried], rng.integers(5, 60, retried.sum()), rng.integers(1, 6, retried.sum())
    )
    retries["ts"] += wait * 1_000_000
    retries["request_id"] = np.array(request_ids(rng, int(retried.sum())), dtype=object)
    denied = limited | forbidden | missing
    _set(columns, limited, status=429, decision="deny", reason="rate_limited")
    _set(columns, upstream_error, status=rng.choice([502, 503, 529], upstream_error.sum()))
    reasons = rng.choice(["model_not_allowed", "scope_missing"], forbidden.sum())
    _set(columns, forbidden, status=403, decision="deny", reason=reasons)
    typos = np.array([path.rstrip("s") for path in columns["path"][missing]], dtype=object)
    _set(columns, missing, status=404, decision="deny", reason="not_found", path=typos)
    failed = denied | upstream_error
    _set(columns, failed, bytes_out=120, streamed=False, tokens_in=None, tokens_out=None)
    quick = np.round(rng.uniform(1, 6, denied.sum()), 3)
    _set(columns, denied, latency_ms=quick, ttfb_ms=quick)
    return joined([columns, retries])


def _set(columns: Columns, rows: Array, **values: Any) -> None:
    for name, value in values.items():
        columns[name][rows] = value


def _mistyped_tokens(agent: Agent, rng: Rng, level: Array, first_minute: int) -> Columns:
    """Now and then someone pastes a broken token: one to three 401s from the agent's address."""
    working = np.flatnonzero(level > 0.3)
    incidents = rng.poisson(0.3 * level.size / DAY_MINUTES) if working.size else 0
    minutes = np.repeat(rng.choice(working, size=incidents), rng.integers(1, 4, size=incidents))
    ts = (first_minute + minutes) * MINUTE_US + rng.integers(0, MINUTE_US, size=minutes.size)
    _, upstream, path, _ = MODELS[agent.models[0]]
    return columns_of(
        ts.size,
        ts=ts,
        request_id=request_ids(rng, ts.size),
        client_ip=agent.ips[0],
        user_agent=user_agent(agent, 0),
        method="POST",
        upstream=upstream,
        path=path,
        status=401,
        decision="deny",
        reason="unauthenticated:malformed",
        latency_ms=np.round(rng.uniform(0.5, 3, ts.size), 3),
        bytes_in=rng.integers(300, 3000, ts.size),
        bytes_out=90,
        streamed=False,
    )


def request_ids(rng: Rng, count: int) -> list[str]:
    digits = rng.bytes(12 * count).hex()
    return [f"req_{digits[24 * i : 24 * i + 24]}" for i in range(count)]


def columns_of(size: int, **values: Any) -> Columns:
    """`size` events in the export's columns (ts: epoch microseconds, the rest objects); a
    column not given is null, a scalar is repeated."""
    columns: Columns = {}
    for name in FIELD_NAMES:
        value = values.get(name)
        if name == "ts":
            columns[name] = np.asarray(value, dtype=np.int64)
        elif value is None or np.isscalar(value):
            columns[name] = np.full(size, value, dtype=object)
        else:
            columns[name] = np.asarray(value).astype(object)
    return columns


def joined(parts: list[Columns]) -> Columns:
    return {name: np.concatenate([part[name] for part in parts]) for name in FIELD_NAMES}
