"""Time in one place, so tests and timers agree on what "now" is."""

from datetime import UTC, datetime


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; treat them as the UTC we stored."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
