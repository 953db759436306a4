"""The instants and days the platform deals in: from 2000-01-01 to 2100-01-01 (UTC).

A datetime near the ends of Python's range overflows when it is converted to UTC or moved by a
grace period, and a read model that stores UTC strings would then fail on it for good. Every
datetime a command takes is checked against this window first (the API checks it too, so a
client gets 422 before anything is stored); inside it, any offset and any grace of up to a day
stays far from the limits.
"""
from datetime import UTC, date, datetime

from domain.errors import ValidationError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
WINDOW = "from 2000-01-01 to 2100-01-01 (UTC)"


def instant(value: object, name: str) -> datetime:
    """`value` if it is an aware datetime inside the window, else ValidationError naming `name`."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be a datetime with an offset")
    if not EARLIEST <= value <= LATEST:  # aware comparison never overflows; conversion might
        raise ValidationError(f"{name} must lie {WINDOW}")
    return value


def day(value: date, name: str) -> date:
    if not EARLIEST.date() <= value <= LATEST.date():
        raise ValidationError(f"{name} must lie {WINDOW}")
    return value
