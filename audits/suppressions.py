"""Which suppression, if any, accepts a finding at a given moment.

A suppression names one finding by fingerprint, or every finding of a rule, optionally only under
a path glob (fnmatch over normalised paths). Every criterion it names must match. Expired
suppressions accept nothing, so their findings come back on their own. Datetimes are compared as
given: callers pass timezone-aware values, as the model and the configuration produce them.
"""

from datetime import datetime
from fnmatch import fnmatchcase

from audits.model import Finding, Suppression, normalise_path


def active(suppressions: list[Suppression], now: datetime) -> list[Suppression]:
    """The suppressions that have not expired at `now`."""
    return [suppression for suppression in suppressions if suppression.expires_at > now]


def covering(
    finding: Finding, suppressions: list[Suppression], now: datetime
) -> Suppression | None:
    """The unexpired suppression accepting `finding`; of several, the one that lasts longest."""
    matching = [
        suppression for suppression in active(suppressions, now) if matches(suppression, finding)
    ]
    return max(matching, key=lambda suppression: suppression.expires_at, default=None)


def matches(suppression: Suppression, finding: Finding) -> bool:
    """Whether `suppression` names `finding`, expiry aside."""
    if suppression.fingerprint is None and suppression.rule is None:
        return False  # a bare path glob would accept every finding under it
    if suppression.fingerprint is not None and suppression.fingerprint != finding.fingerprint:
        return False
    if suppression.rule is not None and suppression.rule != finding.rule:
        return False
    return suppression.path_glob is None or fnmatchcase(
        normalise_path(finding.path), normalise_path(suppression.path_glob)
    )
