"""The agents of a synthetic instance: who they are, where they call from, what they call, and
when they work.

Every draw comes from the one generator passed in, so a seed fixes the whole population.
"""

import string
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from controlplane.kit.base62 import ALPHABET

Rng = np.random.Generator

# Crockford's base32, as `controlplane.kit.ids` spells ids: no i, l, o or u.
_CROCKFORD = string.digits + "".join(c for c in string.ascii_lowercase if c not in "ilou")

# (model, upstream, path, output scale): embeddings answer with vectors, chats with text.
MODELS = (
    ("gpt-4o", "openai", "/proxy/openai/v1/chat/completions", 1.0),
    ("gpt-4o-mini", "openai", "/proxy/openai/v1/chat/completions", 0.8),
    ("o3-mini", "openai", "/proxy/openai/v1/chat/completions", 1.4),
    ("text-embedding-3-small", "openai", "/proxy/openai/v1/embeddings", 3.0),
    ("claude-sonnet-4-5", "anthropic", "/proxy/anthropic/v1/messages", 1.2),
    ("claude-haiku-4-5", "anthropic", "/proxy/anthropic/v1/messages", 0.7),
    (
        "meta-llama/llama-3.3-70b-instruct",
        "openrouter",
        "/proxy/openrouter/api/v1/chat/completions",
        1.0,
    ),
    ("mistralai/mistral-large", "openrouter", "/proxy/openrouter/api/v1/chat/completions", 1.0),
)
LIST_PATHS = {
    "openai": "/proxy/openai/v1/models",
    "anthropic": "/proxy/anthropic/v1/models",
    "openrouter": "/proxy/openrouter/api/v1/models",
}
# Client families and their version at the start; a deploy bumps the minor version.
CLIENTS = (
    ("openai-python", (1, 60, 2)),
    ("anthropic-sdk-python", (0, 45, 0)),
    ("gatehouse-runtime", (0, 1, 0)),
    ("langchain-core", (0, 3, 28)),
    ("openai-node", (4, 77, 0)),
)
# Local working hours are shifted to UTC by the workspace's offset (hours).
UTC_OFFSETS = (-8, -5, 0, 1, 8)


class Schedule(StrEnum):
    OFFICE = "office"  # weekdays 9 to 5 local, silent otherwise: a human's tool
    BUSINESS = "business"  # daytime on weekdays, quiet nights and weekends
    ALWAYS = "always"  # round the clock, a mild daily swing


@dataclass(frozen=True)
class Agent:
    index: int
    agent_id: str
    token_accessor: str
    workspace_id: str
    user_id: str
    schedule: Schedule
    utc_offset: int
    peak_per_minute: float  # requests per minute at the busiest time of a working day
    ips: tuple[str, ...]
    ip_shares: tuple[float, ...]
    spare_ip: str  # a further address in the agent's first network, for deploys
    client: int  # index into CLIENTS
    models: tuple[int, ...]  # indexes into MODELS
    model_shares: tuple[float, ...]
    rotated_to: str | None  # the accessor of the token it switches to midway, if it rotates


def crockford_id(rng: Rng, prefix: str) -> str:
    """An id shaped like `controlplane.kit.ids.new_id`: prefix, underscore, 26 characters."""
    return prefix + "_" + "".join(rng.choice(list(_CROCKFORD), 26))


def accessor(rng: Rng) -> str:
    return "acc_" + "".join(rng.choice(list(ALPHABET), 20))


def _shares(rng: Rng, count: int, floor: float) -> tuple[float, ...]:
    """Random shares summing to 1, each at least `floor`, so every item shows up early."""
    raw = rng.dirichlet(np.ones(count)) * (1 - floor * count) + floor
    return tuple(float(share) for share in raw / raw.sum())


def _network(rng: Rng, taken: set[str]) -> str:
    while True:
        prefix = f"10.{rng.integers(1, 250)}.{rng.integers(0, 256)}"
        if prefix not in taken:
            taken.add(prefix)
            return prefix


def population(rng: Rng, agents: int) -> list[Agent]:
    workspaces = max(1, agents // 6)
    taken: set[str] = set()
    spaces = [
        (crockford_id(rng, "ws"), _network(rng, taken), int(rng.choice(UTC_OFFSETS)))
        for _ in range(workspaces)
    ]
    users = [[crockford_id(rng, "usr") for _ in range(rng.integers(1, 4))] for _ in spaces]
    kinds = rng.choice(list(Schedule), size=agents, p=[0.3, 0.45, 0.25])
    result = []
    for index in range(agents):
        space = index % workspaces
        workspace_id, network, offset = spaces[space]
        # One to three stable addresses, in the workspace's network or, for some agents, one in
        # a second region's network (with a real share of the traffic).
        hosts = rng.choice(np.arange(10, 250), size=4, replace=False)
        ips = [f"{network}.{host}" for host in hosts[: rng.integers(1, 4)]]
        if rng.random() < 0.15:
            ips = [*ips[:2], f"{_network(rng, taken)}.{rng.integers(10, 250)}"]
        models = rng.choice(len(MODELS), size=rng.integers(1, 4), replace=False)
        result.append(
            Agent(
                index=index,
                agent_id=crockford_id(rng, "agt"),
                token_accessor=accessor(rng),
                workspace_id=workspace_id,
                user_id=str(rng.choice(users[space])),
                schedule=Schedule(kinds[index]),
                utc_offset=offset,
                peak_per_minute=float(np.clip(rng.lognormal(np.log(1.5), 0.7), 0.4, 10.0)),
                ips=tuple(ips),
                ip_shares=_shares(rng, len(ips), 0.2),
                spare_ip=f"{network}.{hosts[3]}",
                client=int(rng.integers(len(CLIENTS))),
                models=tuple(int(model) for model in models),
                model_shares=_shares(rng, len(models), 0.15),
                rotated_to=accessor(rng) if rng.random() < 0.1 else None,
            )
        )
    return result


def user_agent(agent: Agent, deploys: int) -> str:
    """The agent's client string after `deploys` deploys (each bumps the minor version)."""
    name, (major, minor, patch) = CLIENTS[agent.client]
    version = f"{major}.{minor + deploys}.{0 if deploys else patch}"
    return f"{name}/{version} python/3.12" if "node" not in name else f"{name}/{version} node/22"
