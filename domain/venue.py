"""Venues (场地共享): rooms and halls an organisation lends, with the rules bookings must keep.

Open hours are local times in the city's zone (UTC+8, no daylight saving), so a booking "lies
within one day" by the local calendar.
"""
import re
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from eventsourcing.domain import event

from domain import bounds
from domain.actors import Actor, Role
from domain.base import Record, base_relations
from domain.city import CITY_TZ
from domain.errors import BookingRuleError, ValidationError
from domain.lifecycle import Lifecycle, row

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

# trigger     from                      to           who
LIFECYCLE = Lifecycle("venue", ["active", "suspended", "retired"], [
    row("suspend", "active",                  "suspended", {"owner", "admin"}),
    row("resume",  "suspended",               "active",    {"owner", "admin"}),
    row("retire",  ["active", "suspended"],   "retired",   {"owner", "admin"}),
])


def relations(actor: Actor, organisation_id: str) -> set[str]:
    if actor.role is Role.ORG and actor.id == organisation_id:
        return {"owner"}
    return base_relations(actor)


def _clock_time(value: str, field: str) -> str:
    if not isinstance(value, str) or not HHMM.match(value):
        raise ValidationError(f"{field} must be HH:MM")
    return value


def _blackouts(blackouts: list[dict]) -> list[dict]:
    cleaned = []
    for b in blackouts:
        starts, ends = b.get("starts_at"), b.get("ends_at")
        if not bounds.instant(starts, "a blackout's starts_at") < bounds.instant(ends, "a blackout's ends_at"):
            raise ValidationError("a blackout needs starts_at before ends_at")
        cleaned.append({"starts_at": starts.astimezone(UTC).isoformat(), "ends_at": ends.astimezone(UTC).isoformat(),
                        "reason": str(b.get("reason") or "")[:200]})
    return cleaned


class Venue(Record):
    lifecycle = LIFECYCLE

    @staticmethod
    def share(id: UUID, organisation_id: str, name: str, address: str, grid_id: str, capacity: int,
              opens_at: str, closes_at: str, requires_approval: bool, min_notice_hours: int,
              max_advance_days: int, cancel_lock_hours: int, blackouts: list[dict]) -> "Venue":
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationError("name must be 1 to 200 characters")
        for field, value, low, high in (("capacity", capacity, 1, 100_000), ("min_notice_hours", min_notice_hours, 0, 8760),
                                        ("max_advance_days", max_advance_days, 1, 3650),
                                        ("cancel_lock_hours", cancel_lock_hours, 0, 8760)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValidationError(f"{field} must be an integer from {low} to {high}")
        if not _clock_time(opens_at, "opens_at") < _clock_time(closes_at, "closes_at"):
            raise ValidationError("opens_at must be before closes_at")
        return Venue(id=id, organisation_id=organisation_id, name=name.strip(), address=address, grid_id=grid_id,
                     capacity=capacity, opens_at=opens_at, closes_at=closes_at,
                     requires_approval=bool(requires_approval), min_notice_hours=min_notice_hours,
                     max_advance_days=max_advance_days, cancel_lock_hours=cancel_lock_hours,
                     blackouts=_blackouts(blackouts))

    class Shared(Record.Created):
        organisation_id: str
        name: str
        address: str
        grid_id: str
        capacity: int
        opens_at: str
        closes_at: str
        requires_approval: bool
        min_notice_hours: int
        max_advance_days: int
        cancel_lock_hours: int
        blackouts: list

    @event(Shared)
    def __init__(self, id: UUID, organisation_id: str, name: str, address: str, grid_id: str, capacity: int,
                 opens_at: str, closes_at: str, requires_approval: bool, min_notice_hours: int,
                 max_advance_days: int, cancel_lock_hours: int, blackouts: list):
        self.organisation_id, self.name, self.address, self.grid_id = organisation_id, name, address, grid_id
        self.capacity, self.opens_at, self.closes_at = capacity, opens_at, closes_at
        self.requires_approval, self.min_notice_hours = requires_approval, min_notice_hours
        self.max_advance_days, self.cancel_lock_hours, self.blackouts = max_advance_days, cancel_lock_hours, blackouts
        self.status = "active"
        self.reason: str | None = None

    def relations(self, actor: Actor) -> set[str]:
        return relations(actor, self.organisation_id)

    # -- where and when bookings may go -------------------------------------------------------
    def window(self, day: date) -> tuple[datetime, datetime]:
        """The open hours of a local day, as aware datetimes."""
        opens, closes = (time.fromisoformat(t) for t in (self.opens_at, self.closes_at))
        return datetime.combine(day, opens, CITY_TZ), datetime.combine(day, closes, CITY_TZ)

    def blackout_intervals(self) -> list[tuple[datetime, datetime]]:
        return [(datetime.fromisoformat(b["starts_at"]), datetime.fromisoformat(b["ends_at"])) for b in self.blackouts]

    def check_booking(self, starts_at: datetime, ends_at: datetime, attendees: int, now: datetime) -> date:
        """The local day of an acceptable booking, or BookingRuleError naming the rule broken."""
        if not bounds.instant(starts_at, "starts_at") < bounds.instant(ends_at, "ends_at"):
            raise ValidationError("starts_at must be before ends_at")
        day = starts_at.astimezone(CITY_TZ).date()
        if ends_at.astimezone(CITY_TZ).date() != day and ends_at.astimezone(CITY_TZ).time() != time(0):
            raise BookingRuleError("one-day", "a booking must lie within one day")
        if isinstance(attendees, bool) or not isinstance(attendees, int) or not 1 <= attendees <= self.capacity:
            raise BookingRuleError("capacity", f"attendees must be from 1 to the venue's capacity of {self.capacity}")
        if starts_at < now + timedelta(hours=self.min_notice_hours):
            raise BookingRuleError("notice", f"bookings need {self.min_notice_hours} hours' notice")
        if starts_at > now + timedelta(days=self.max_advance_days):
            raise BookingRuleError("advance", f"bookings open at most {self.max_advance_days} days ahead")
        opens, closes = self.window(day)
        if starts_at < opens or ends_at > closes:
            raise BookingRuleError("open-hours", f"the venue is open {self.opens_at}–{self.closes_at}")
        if any(starts_at < b_end and b_start < ends_at for b_start, b_end in self.blackout_intervals()):
            raise BookingRuleError("blackout", "the venue is closed (blackout) then")
        return day

    # -- commands -----------------------------------------------------------------------------
    def suspend(self, by: Actor, reason: str | None = None) -> None:
        self.trigger_event(self.Suspended, status=self._decide("suspend", by), reason=reason)

    def resume(self, by: Actor) -> None:
        self.trigger_event(self.Resumed, status=self._decide("resume", by))

    def retire(self, by: Actor, reason: str | None = None) -> None:
        self.trigger_event(self.Retired, status=self._decide("retire", by), reason=reason)

    class Suspended(Record.Reasoned):
        pass

    class Resumed(Record.Cleared):
        pass

    class Retired(Record.Reasoned):
        pass
