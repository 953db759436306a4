"""A venue's day (场地日程): the confirmed slots of one venue on one local date.

Its id derives from venue and date, so every writer of that day meets on one aggregate
version: a confirmation and its slot reservation save together, and two overlapping
confirmations cannot both commit.
"""
from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Stamped
from domain.errors import SlotTakenError


def free_intervals(opens: datetime, closes: datetime,
                   taken: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The parts of [opens, closes) that no taken interval covers."""
    free, cursor = [], opens
    for start, end in sorted(taken):
        if end <= cursor or start >= closes:
            continue
        if start > cursor:
            free.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < closes:
        free.append((cursor, closes))
    return free


def day_id(venue_id: UUID | str, day: date) -> UUID:
    return uuid5(NAMESPACE_URL, f"linli:venue-day:{venue_id}:{day.isoformat()}")


class VenueDay(Stamped):
    class Opened(Stamped.Created):
        venue_id: str
        day: str

    @event(Opened)
    def __init__(self, id: UUID, venue_id: str, day: str):
        self.venue_id, self.day = venue_id, day
        self.slots: dict[str, list[str]] = {}  # booking id -> [starts_at, ends_at] (ISO)

    @staticmethod
    def open(venue_id: UUID | str, day: date) -> "VenueDay":
        return VenueDay(id=day_id(venue_id, day), venue_id=str(venue_id), day=day.isoformat())

    def intervals(self) -> list[tuple[datetime, datetime]]:
        return sorted((datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in self.slots.values())

    def reserve(self, booking_id: str, starts_at: datetime, ends_at: datetime) -> None:
        if any(starts_at < end and start < ends_at for start, end in self.intervals()):
            raise SlotTakenError("the venue is already booked for part of that time")
        self._reserved(booking_id=booking_id, starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat())

    def release(self, booking_id: str) -> None:
        if booking_id in self.slots:
            self._released(booking_id=booking_id)

    class Reserved(Stamped.Event):
        booking_id: str
        starts_at: str
        ends_at: str

    @event(Reserved)
    def _reserved(self, booking_id: str, starts_at: str, ends_at: str) -> None:
        self.slots[booking_id] = [starts_at, ends_at]

    class Released(Stamped.Event):
        booking_id: str

    @event(Released)
    def _released(self, booking_id: str) -> None:
        del self.slots[booking_id]
