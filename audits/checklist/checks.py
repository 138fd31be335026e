"""Every automated check, by the name `threat-model/checklist.yaml` gives it.

Each domain module declares its own `CHECKS`; this is the one registry the loader validates
names against and the runner dispatches through. A name declared twice is refused at import.
"""

from collections.abc import Iterable, Mapping

from audits.checklist import access_log, identity, keys, observability, providers, sessions, tokens
from audits.checklist.context import Check


def _merge(declared: Iterable[Mapping[str, Check]]) -> dict[str, Check]:
    registry: dict[str, Check] = {}
    for checks in declared:
        for name, check in checks.items():
            if name in registry:
                raise ValueError(f"the automated check {name!r} is declared twice")
            registry[name] = check
    return registry


REGISTRY: dict[str, Check] = _merge(
    module.CHECKS
    for module in (tokens, keys, sessions, access_log, providers, observability, identity)
)
