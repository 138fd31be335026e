"""The effective policy for one agent, and the checks the proxy runs against it.

Pure functions over plain values: the proxy evaluates a cached `EffectivePolicy` with no I/O.
"""

import fnmatch
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from controlplane.policies.models import ProxyPolicy
from controlplane.tokens.verifier import ip_allowed

# The rule columns, in the order the API and the CLI show them.
RULES = (
    "upstreams",
    "models",
    "required_scope",
    "token_rpm",
    "token_tpm",
    "workspace_rpm",
    "workspace_tpm",
    "max_body_bytes",
    "max_streams_per_token",
    "cidrs",
)
# What the workspace policy also carries besides its rules: settings for other features, never
# merged into the effective policy, and refused on an agent's override.
WORKSPACE_SETTINGS = ("anomaly_auto_suspend",)
# Rate limits count in fixed windows of one minute, numbered from the Unix epoch.
WINDOW_SECONDS = 60


def window_of(timestamp: float) -> int:
    return int(timestamp // WINDOW_SECONDS)


# A workspace's own budget: an agent override cannot set it (each agent would see another cap).
WORKSPACE_ONLY = frozenset({"workspace_rpm", "workspace_tpm"})


@dataclass(frozen=True)
class EffectivePolicy:
    """None means "no rule": every upstream, every model, no limit."""

    upstreams: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    required_scope: str | None = None
    token_rpm: int | None = None
    token_tpm: int | None = None
    workspace_rpm: int | None = None
    workspace_tpm: int | None = None
    max_body_bytes: int | None = None
    max_streams_per_token: int | None = None
    cidrs: tuple[str, ...] | None = None

    @cached_property
    def _model_pattern(self) -> re.Pattern[str] | None:
        # Compiled once per cached policy: the globs become one anchored alternation.
        if self.models is None:
            return None
        # An empty list allows no model: "(?!)" never matches, where "" would match model "".
        globs = "|".join(f"(?:{fnmatch.translate(glob)})" for glob in self.models)
        return re.compile(globs or "(?!)")

    def upstream_allowed(self, upstream: str) -> bool:
        return self.upstreams is None or upstream in self.upstreams

    def model_allowed(self, model: str | None) -> bool:
        """Requests that name no model (listing models, say) are not model requests."""
        pattern = self._model_pattern
        return pattern is None or model is None or pattern.fullmatch(model) is not None

    def address_allowed(self, client_ip: str | None) -> bool:
        # An empty list allows no address, like an empty `upstreams` or `models`; `ip_allowed`
        # is the tokens' check, where an empty list means unrestricted, so it never sees one.
        if self.cidrs is None:
            return True
        return bool(self.cidrs) and ip_allowed(self.cidrs, client_ip)

    def body_limit(self, ceiling: int) -> int:
        """The instance-wide ceiling always holds; a policy can only lower it."""
        return ceiling if self.max_body_bytes is None else min(ceiling, self.max_body_bytes)

    @property
    def rate_limited(self) -> bool:
        return any(
            limit is not None
            for limit in (self.token_rpm, self.token_tpm, self.workspace_rpm, self.workspace_tpm)
        )

    def as_dict(self) -> dict[str, object]:
        return {rule: _jsonable(getattr(self, rule)) for rule in RULES}


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _rules_of(row: ProxyPolicy | None) -> dict[str, Any]:
    if row is None:
        return {}
    rules: dict[str, Any] = {}
    for rule in RULES:
        value = getattr(row, rule)
        if value is not None:
            rules[rule] = tuple(value) if isinstance(value, list) else value
    return rules


def merge(workspace: ProxyPolicy | None, override: ProxyPolicy | None) -> EffectivePolicy:
    """Rule by rule: the agent's override where it sets one, else the workspace default."""
    rules = _rules_of(workspace)
    rules.update({k: v for k, v in _rules_of(override).items() if k not in WORKSPACE_ONLY})
    return EffectivePolicy(**rules)
