"""What an automated check sees, what it answers, and the wording its answers share.

A check is a plain function of a `CheckContext`: the control plane's container, a session in a
read-only transaction of the check's own, and the instant the run judges against. It returns an
`Outcome`: a status and an explanation specific enough to act on (accessors, counts, actual and
required values), and never any secret material.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from audits.model import CheckStatus
from controlplane.config import Settings
from controlplane.container import Container

# Enough names to act on; a longer list is a count.
LISTED = 10


@dataclass(frozen=True)
class CheckContext:
    container: Container
    session: Session
    now: datetime

    @property
    def settings(self) -> Settings:
        return self.container.settings


@dataclass(frozen=True)
class Outcome:
    status: CheckStatus
    explanation: str


Check = Callable[[CheckContext], Outcome]


def passed(explanation: str) -> Outcome:
    return Outcome(CheckStatus.PASS, explanation)


def failed(explanation: str) -> Outcome:
    return Outcome(CheckStatus.FAIL, explanation)


def not_applicable(explanation: str) -> Outcome:
    return Outcome(CheckStatus.NOT_APPLICABLE, explanation)


def listing(names: Sequence[str], limit: int = LISTED) -> str:
    """`a, b, c` or `a, b, c and 7 more`."""
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 token`, `2 tokens`; `nouns` for an irregular plural."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"


def duration(span: timedelta) -> str:
    """A span as people read it: `365 days`, `36.5 days`, `13 h`, `15 min`, `90 s`."""
    seconds = span.total_seconds()
    for unit, name in ((86_400, "days"), (3_600, "h"), (60, "min")):
        if seconds >= unit:
            count = round(seconds / unit, 1)
            text = str(int(count)) if count == int(count) else f"{count:.1f}"
            return "1 day" if text == "1" and name == "days" else f"{text} {name}"
    return f"{seconds:.0f} s"
