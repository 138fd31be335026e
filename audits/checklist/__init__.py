"""The threat-model checklist: the items of `threat-model/checklist.yaml`, the automated checks
that verify a running control plane, and the attestations that stand for the manual ones.

    items = load_checklist()
    results = run_checklist(items, container=container, attestations=[...], now=utcnow())
"""

from audits.checklist.items import (
    DEFAULT_CHECKLIST,
    ChecklistError,
    ChecklistItem,
    ManualCheck,
    load_checklist,
)
from audits.checklist.runner import NO_CONTROL_PLANE, run_checklist

__all__ = [
    "DEFAULT_CHECKLIST",
    "NO_CONTROL_PLANE",
    "ChecklistError",
    "ChecklistItem",
    "ManualCheck",
    "load_checklist",
    "run_checklist",
]
