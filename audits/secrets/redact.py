"""Redacted previews: enough of a secret to recognise it, never enough to use it."""

ELLIPSIS = "…"
_HEAD = 4
_TAIL = 2


def preview(secret: str) -> str:
    """At most the first four and last two characters, and never more than a third of it.

    "AKIA" + 16 more characters becomes "AKIA…XY"; a 9-character password shows "pa…d" (a third
    of 9 is 3); a 5-character one shows its first character, and one of two characters nothing.
    """
    budget = len(secret) // 3
    tail = min(_TAIL, budget // 3)
    head = min(_HEAD, budget - tail)
    return f"{secret[:head]}{ELLIPSIS}{secret[len(secret) - tail :] if tail else ''}"
