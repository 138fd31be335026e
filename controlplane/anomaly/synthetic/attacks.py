"""The attacks injected into a synthetic instance, each with the label that says where it is.

Every kind the detectors look for, at a known window and entity, placed from the third day on
so that victims have a history, on distinct victims so attacks do not mask each other. A label
lists the detectors expected to fire; others may fire on the same entity and window too (a
stolen token's burst is also a rate spike), which still counts as a hit.

Attackers' addresses come from the documentation ranges and 10.250.0.0/15, which no synthetic
agent uses.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from controlplane.anomaly.synthetic.population import (
    MODELS,
    Agent,
    Rng,
    Schedule,
    accessor,
    user_agent,
)
from controlplane.anomaly.synthetic.traffic import (
    DAY_MINUTES,
    MINUTE_US,
    Columns,
    columns_of,
    joined,
    request_ids,
    requests_columns,
)

Stamps = np.ndarray[Any, np.dtype[np.int64]]

BROWSERS = tuple(
    f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version}.0.0.0"
    for system in ("X11; Linux x86_64", "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X")
    for version in range(120, 125)
)
PROBED_PATHS = (
    "/v1/tokens",
    "/v1/admin/users",
    "/v1/access-log",
    "/v1/audit/runs",
    "/proxy/openai/v1/files",
    "/proxy/openai/v1/fine_tuning/jobs",
    "/proxy/openai/v1/batches",
    "/proxy/anthropic/v1/organizations/api_keys",
    "/v1/providers",
    "/v1/policies",
)
SCANNED_PATHS = (
    *("/.env", "/.git/config", "/wp-admin/", "/wp-login.php", "/admin", "/server-status"),
    *("/actuator/health", "/api/v1/secrets", "/config.json", "/phpinfo.php", "/backup.zip"),
    *("/debug/vars", "/metrics", "/console", "/.DS_Store", "/cgi-bin/test.cgi", "/owa/"),
    *("/solr/admin", "/jenkins/login", "/api/swagger.json", "/graphql", "/login"),
    *("/manager/html", "/xmlrpc.php", "/vendor/phpunit", "/telescope/requests", "/_profiler"),
)


@dataclass(frozen=True)
class Attack:
    kind: str
    detectors: tuple[str, ...]
    entity_type: str
    entity: str
    start_us: int  # the label's span, aligned to the detectors' windows
    end_us: int
    events: Columns


@dataclass(frozen=True)
class Setting:
    agents: list[Agent]
    levels: dict[int, np.ndarray[Any, Any]]  # each agent's intensity per minute
    rng: Rng
    first_minute: int  # the dataset's first minute (midnight UTC), minutes since the epoch
    days: int
    window_us: int
    scale: float  # the rate multiplier the normal traffic was generated with

    def window_of(self, minute: int) -> int:
        start = (self.first_minute + minute) * MINUTE_US
        return start - start % self.window_us

    def busy_window(self, agent: Agent) -> int:
        """A window from the third day on where `agent` works near its peak."""
        level = self.levels[agent.index]
        busy = np.flatnonzero(level >= 0.8)
        busy = busy[(busy >= 2 * DAY_MINUTES) & (busy < level.size - 30)]
        return self.window_of(int(self.rng.choice(busy)))

    def night_window(self, day: int, hour: int) -> int:
        return self.window_of(day * DAY_MINUTES + hour * 60 + int(self.rng.integers(0, 50)))

    def stamps(self, start: int, count: int, span_us: int | None = None) -> Stamps:
        """`count` sorted timestamps from `start` + 10 s, within the window (or `span_us`)."""
        span = span_us or self.window_us - 20_000_000
        return np.sort(start + 10_000_000 + self.rng.integers(0, span, size=count))

    def attack(
        self,
        kind: str,
        detectors: tuple[str, ...],
        entity: tuple[str, str],
        start: int,
        events: Columns,
        windows: int = 1,
    ) -> Attack:
        end = start + windows * self.window_us
        return Attack(kind, detectors, entity[0], entity[1], start, end, events)


def _calls(setting: Setting, agent: Agent, ts: Stamps, **columns: Any) -> Columns:
    """Allowed calls with `agent`'s token, by default as the agent makes them."""
    model = MODELS[agent.models[0]]
    values = {
        "ip": agent.ips[0],
        "user_agent": user_agent(agent, 0),
        "model": model[0],
        "upstream": model[1],
        "path": model[2],
        **columns,
    }
    return requests_columns(setting.rng, ts=ts, agent=agent, **values)


def _refused(setting: Setting, ts: Stamps, ips: Any, reasons: Any, **columns: Any) -> Columns:
    """401s (by default) of someone without a working token."""
    values = {
        "method": "POST",
        "upstream": "openai",
        "path": "/proxy/openai/v1/chat/completions",
        "status": 401,
        "decision": "deny",
        "latency_ms": np.round(setting.rng.uniform(0.5, 3, ts.size), 3),
        "bytes_in": setting.rng.integers(300, 3000, ts.size),
        "bytes_out": 90,
        "streamed": False,
        "user_agent": "python-requests/2.31.0",
        **columns,
    }
    ids = request_ids(setting.rng, ts.size)
    return columns_of(ts.size, ts=ts, request_id=ids, client_ip=ips, reason=reasons, **values)


def _fill(events: Columns, **values: Any) -> None:
    """Replace whole columns (a scalar is repeated)."""
    size = events["ts"].size
    for name, value in values.items():
        events[name] = np.broadcast_to(np.asarray(value, dtype=object), size).copy()


def _token(agent: Agent) -> tuple[str, str]:
    return ("token", agent.token_accessor)


def stolen_token(setting: Setting, victim: Agent) -> Attack:
    """A burst from a new network with another client: about ten times the victim's peak."""
    start = setting.busy_window(victim)
    usual = victim.peak_per_minute * setting.scale * setting.window_us / MINUTE_US
    count = int(max(250, 12 * usual))
    ts = setting.stamps(start, count, span_us=240_000_000)
    events = _calls(setting, victim, ts, ip="203.0.113.45", user_agent="python-requests/2.31.0")
    return setting.attack(
        "stolen_token", ("new_network", "rate_spike"), _token(victim), start, events
    )


def shared_token(setting: Setting, victim: Agent) -> Attack:
    """The token pasted into a team's scripts: thirty addresses in one window."""
    rng = setting.rng
    start = setting.busy_window(victim)
    ips = [f"10.{rng.integers(250, 252)}.{rng.integers(0, 256)}.{host}" for host in range(1, 31)]
    per_ip = rng.integers(2, 5, size=len(ips))
    addresses = rng.permutation(np.repeat(np.array(ips, dtype=object), per_ip))
    events = _calls(setting, victim, setting.stamps(start, addresses.size), ip=addresses)
    return setting.attack(
        "shared_token", ("many_ips", "new_network"), _token(victim), start, events
    )


def user_agent_rotation(setting: Setting, victim: Agent) -> Attack:
    """A scraper rotating browser user agents, from the victim's own address."""
    start = setting.busy_window(victim)
    ts = setting.stamps(start, 60)
    agents = np.resize(np.array(BROWSERS, dtype=object), ts.size)
    events = _calls(setting, victim, ts, user_agent=setting.rng.permutation(agents))
    return setting.attack(
        "user_agent_rotation", ("many_user_agents",), _token(victim), start, events
    )


def credential_stuffing(setting: Setting) -> Attack:
    """Fifty addresses, each trying a few stolen or made-up tokens."""
    rng = setting.rng
    start = setting.night_window(2, 3)
    hosts = rng.choice(np.arange(1, 255), size=25, replace=False)
    ips = [f"{prefix}.{host}" for prefix in ("198.51.100", "192.0.2") for host in hosts]
    per_ip = rng.integers(2, 6, size=len(ips))
    addresses = rng.permutation(np.repeat(np.array(ips, dtype=object), per_ip))
    ts = setting.stamps(start, addresses.size)
    reasons = rng.choice(["unauthenticated:unknown", "unauthenticated:malformed"], size=ts.size)
    events = _refused(setting, ts, addresses, reasons)
    return setting.attack(
        "credential_stuffing", ("credential_stuffing",), ("workspace", "*"), start, events
    )


def token_guessing(setting: Setting) -> Attack:
    """One address guessing tokens as fast as it can."""
    rng = setting.rng
    start = setting.night_window(setting.days - 1, 14)
    ts = setting.stamps(start, int(rng.integers(120, 200)))
    reasons = rng.choice(
        ["unauthenticated:unknown", "unauthenticated:malformed"], size=ts.size, p=[0.8, 0.2]
    )
    events = _refused(setting, ts, "203.0.113.66", reasons, user_agent="curl/8.5.0")
    return setting.attack(
        "token_guessing", ("auth_failure_burst",), ("ip", "203.0.113.66"), start, events
    )


def permission_probing(setting: Setting, victim: Agent) -> Attack:
    """A token trying admin routes and other workspaces' agents: 403s and 404s."""
    rng = setting.rng
    start = setting.busy_window(victim)
    others = [f"/v1/workspaces/{agent.workspace_id}/agents" for agent in setting.agents]
    distinct = np.array(list(dict.fromkeys([*PROBED_PATHS, *others]))[:25], dtype=object)
    paths = rng.permutation(np.concatenate([distinct, rng.choice(distinct, 40 - distinct.size)]))
    events = _calls(setting, victim, setting.stamps(start, paths.size), path=paths)
    forbidden = rng.random(paths.size) < 0.6
    reasons = rng.choice(["scope_missing", "upstream_not_allowed"], paths.size)
    reasons = np.where(forbidden, reasons, "not_found")
    _fill(events, status=np.where(forbidden, 403, 404), decision="deny", reason=reasons)
    _fill(events, bytes_out=120, tokens_in=None, tokens_out=None, streamed=False)
    return setting.attack(
        "permission_probing", ("permission_probing",), _token(victim), start, events
    )


def path_scan(setting: Setting) -> Attack:
    """A scanner with no token walking common paths: 404s."""
    start = setting.night_window(2, 20)
    paths = np.array(SCANNED_PATHS, dtype=object)
    every = np.concatenate([paths, setting.rng.choice(paths, 10)])
    events = _refused(
        setting,
        setting.stamps(start, every.size),
        "192.0.2.77",
        "not_found",
        method="GET",
        upstream=None,
        status=404,
        path=setting.rng.permutation(every),
        user_agent="Mozilla/5.0 zgrab/0.x",
    )
    return setting.attack("path_scan", ("permission_probing",), ("ip", "192.0.2.77"), start, events)


def exfiltration(setting: Setting, victim: Agent) -> Attack:
    """Twenty-five huge responses: about 150 MB and 1.5 million tokens out in a window."""
    rng = setting.rng
    start = setting.busy_window(victim)
    events = _calls(setting, victim, setting.stamps(start, 25))
    size = events["ts"].size
    huge = {"bytes_out": rng.integers(4_000_000, 8_000_000, size)}
    _fill(events, **huge, tokens_out=rng.integers(40_000, 80_000, size), streamed=True)
    return setting.attack("exfiltration", ("exfiltration",), _token(victim), start, events)


def dead_token_reuse(setting: Setting, victim: Agent, state: str) -> Attack:
    """A few calls with a token of the victim's that was revoked (or has expired)."""
    start = setting.busy_window(victim)
    dead = accessor(setting.rng)
    events = _refused(
        setting,
        setting.stamps(start, int(setting.rng.integers(4, 9))),
        "198.51.100.250",
        f"unauthenticated:{state}",
        token_accessor=dead,
        workspace_id=victim.workspace_id,
        agent_id=victim.agent_id,
        user_id=victim.user_id,
    )
    return setting.attack(
        f"{state}_token_reuse", ("revoked_token_reuse",), ("token", dead), start, events
    )


def off_hours(setting: Setting, office: list[Agent]) -> Attack:
    """A 9-to-5 token used at 2 am local time on a weekday, from its usual address."""
    victim, minute = _night_shift(setting, office)
    start, windows = setting.window_of(minute), 6
    frames = [
        _calls(setting, victim, setting.stamps(start + k * setting.window_us, count))
        for k, count in enumerate(setting.rng.integers(15, 26, size=windows))
    ]
    events = joined(frames)
    return setting.attack("off_hours", ("off_hours",), _token(victim), start, events, windows)


def _night_shift(setting: Setting, office: list[Agent]) -> tuple[Agent, int]:
    """A 9-to-5 agent and the minute of a 2 am local on a weekday (a weekday in UTC too),
    with two full weekdays between its first working day and then (UTC): by then its schedule
    counts as known (see the off_hours detector)."""
    base = setting.first_minute // DAY_MINUTES  # the first day, in days since the epoch
    for victim in sorted(office, key=lambda agent: abs(agent.utc_offset)):
        first = base + int(np.flatnonzero(setting.levels[victim.index] > 0)[0]) // DAY_MINUTES
        for day in range(setting.days):
            minute = day * DAY_MINUTES + (2 - victim.utc_offset) * 60
            utc_day = base + minute // DAY_MINUTES
            between = np.busday_count(
                np.datetime64(first + 1, "D"), np.datetime64(max(utc_day, first + 1), "D")
            )
            weekdays = (base + day + 3) % 7 < 5 and (utc_day + 3) % 7 < 5
            inside = 0 <= minute < setting.days * DAY_MINUTES - 40
            if weekdays and between >= 2 and inside:
                return victim, minute
    raise ValueError("the off-hours attack needs a 9-to-5 agent and more days: add days")


def new_model(setting: Setting, victim: Agent) -> Attack:
    """An agent calling a model it never used."""
    start = setting.busy_window(victim)
    model = MODELS[next(index for index in range(len(MODELS)) if index not in victim.models)]
    ts = setting.stamps(start, 8)
    events = _calls(setting, victim, ts, model=model[0], upstream=model[1], path=model[2])
    return setting.attack("new_model", ("new_model",), ("agent", victim.agent_id), start, events)


def inject(setting: Setting) -> list[Attack]:
    """One attack of each kind, on distinct victims."""
    # Victims keep one token throughout: an attack on a token rotated away would be a 401.
    steady = [agent for agent in setting.agents if agent.rotated_to is None]
    pool = [
        agent
        for agent in steady
        if agent.schedule is not Schedule.OFFICE and agent.peak_per_minute >= 0.8
    ]
    office = [agent for agent in steady if agent.schedule is Schedule.OFFICE]
    if len(pool) < 8 or not office:
        raise ValueError("attacks need 8 busy agents and a 9-to-5 one: generate more agents")
    pool = [pool[index] for index in setting.rng.permutation(len(pool))]
    makers: list[Callable[[], Attack]] = [
        lambda: stolen_token(setting, pool[0]),
        lambda: shared_token(setting, pool[1]),
        lambda: user_agent_rotation(setting, pool[2]),
        lambda: credential_stuffing(setting),
        lambda: token_guessing(setting),
        lambda: permission_probing(setting, pool[3]),
        lambda: path_scan(setting),
        lambda: exfiltration(setting, pool[4]),
        lambda: dead_token_reuse(setting, pool[5], "revoked"),
        lambda: dead_token_reuse(setting, pool[6], "expired"),
        lambda: off_hours(setting, office),
        lambda: new_model(setting, pool[7]),
    ]
    return [make() for make in makers]
