"""One place to ask the time, so tests and jobs agree on UTC and on precision."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware UTC now, truncated to microseconds as both databases store it."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything we store is UTC, so say so."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
