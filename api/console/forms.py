"""Turning what a form sends into what the JSON API takes: local times, numbers, ticks."""
from datetime import datetime

from domain.city import CITY_TZ


def instant(value: str | None) -> str | None:
    """A `datetime-local` value read as city time, as ISO 8601 with its offset; else as typed."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=CITY_TZ).isoformat()
    except ValueError:
        return value


def number(value: str | None):
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        return value  # the API refuses it with the field's name


def ticked(value: str | None) -> bool:
    return value in ("on", "true", "1")


def page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) <= 100_000 else 1
