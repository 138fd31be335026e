"""Keyset pagination over time-sortable ids: the cursor is the last id of the page."""

from collections.abc import Sequence
from typing import Protocol


class HasId(Protocol):
    @property
    def id(self) -> str: ...


def next_cursor(rows: Sequence[HasId], limit: int) -> str | None:
    """A full page may have a successor; a short page is the last one."""
    return rows[-1].id if len(rows) == limit and rows else None
