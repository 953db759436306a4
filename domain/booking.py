"""VenueBooking (场地预约): a member or organisation booking a venue for a slot of one day."""
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import event

from domain.actors import Actor, Role
from domain.base import Record, base_relations, require_reason
from domain.lifecycle import Lifecycle, row

CHECK_IN_OPENS = timedelta(minutes=15)
HOLDS_SLOT = ("confirmed", "checked_in")

# trigger      from                          to            who
LIFECYCLE = Lifecycle("booking", [
    "requested", "confirmed", "rejected", "cancelled", "checked_in", "completed", "no_show", "expired",
], [
    row("approve",  "requested",                "confirmed",  {"owner"}),
    row("reject",   "requested",                "rejected",   {"owner"}),
    row("cancel",   ["requested", "confirmed"], "cancelled",  {"requester", "owner"}),
    row("check_in", "confirmed",                "checked_in", {"requester", "owner"}),
    row("complete", "checked_in",               "completed",  {"requester", "owner", "system"}),
    row("no_show",  "confirmed",                "no_show",    {"system"}),
    row("expire",   "requested",                "expired",    {"system"}),
])


def relations(actor: Actor, owner_id: str, requester_role: str, requester_id: str) -> set[str]:
    """The owner is the venue's organisation; the requester is whoever booked."""
    found = base_relations(actor)
    if actor.role is Role.ORG and actor.id == owner_id:
        found.add("owner")
    if actor.role.value == requester_role and actor.id == requester_id:
        found.add("requester")
    return found


class Booking(Record):
    """The booking's own lifecycle; slots are held by the venue's day (see domain.reserving)."""

    lifecycle = LIFECYCLE

    class Requested(Record.Created):
        venue_id: str
        owner_id: str
        requester_id: str
        requester_role: str
        starts_at: datetime
        ends_at: datetime
        attendees: int
        purpose: str
        status: str

    @event(Requested)
    def __init__(self, id: UUID, venue_id: str, owner_id: str, requester_id: str, requester_role: str,
                 starts_at: datetime, ends_at: datetime, attendees: int, purpose: str, status: str):
        self.venue_id, self.owner_id = venue_id, owner_id
        self.requester_id, self.requester_role = requester_id, requester_role
        self.starts_at, self.ends_at, self.attendees, self.purpose = starts_at, ends_at, attendees, purpose
        self.status = status
        self.reason: str | None = None

    def relations(self, actor: Actor) -> set[str]:
        return relations(actor, self.owner_id, self.requester_role, self.requester_id)

    # -- commands (slot reservation is done by domain.reserving) -------------------------------
    def approve(self, by: Actor) -> None:
        self.trigger_event(self.Approved, status=self._decide("approve", by))

    def reject(self, by: Actor, reason: str | None = None) -> None:
        status = self._decide("reject", by)
        self.trigger_event(self.Rejected, status=status, reason=require_reason(reason))

    def cancel(self, by: Actor, now: datetime, lock_hours: int, reason: str | None = None) -> None:
        status = self._decide("cancel", by)
        relations = self.relations(by)
        if "owner" in relations:
            reason = require_reason(reason)
        else:
            self._guard(now < self.starts_at - timedelta(hours=lock_hours), "cancel", by,
                        f"bookings cannot be cancelled by the requester within {lock_hours} hours of the start")
        self.trigger_event(self.Cancelled, status=status, was=self.status, reason=reason)

    def check_in(self, by: Actor, now: datetime, grace: timedelta) -> None:
        status = self._decide("check_in", by)
        self._guard(self.starts_at - CHECK_IN_OPENS <= now <= self.starts_at + grace, "check_in", by,
                    "check-in is open from 15 minutes before the start until the start plus grace")
        self.trigger_event(self.CheckedIn, status=status)

    def complete(self, by: Actor, now: datetime) -> None:
        status = self._decide("complete", by)
        if by.role is Role.SYSTEM:
            self._guard(now >= self.ends_at, "complete", by, "the system completes a booking at its end")
        self.trigger_event(self.Completed, status=status)

    def no_show(self, by: Actor, now: datetime, grace: timedelta) -> None:
        status = self._decide("no_show", by)
        self._guard(now > self.starts_at + grace, "no_show", by, "no-show comes only after the start plus grace")
        self.trigger_event(self.MarkedNoShow, status=status)

    def expire(self, by: Actor, now: datetime) -> None:
        status = self._decide("expire", by)
        self._guard(now >= self.starts_at, "expire", by, "a request expires when its start is reached")
        self.trigger_event(self.Expired, status=status)

    # -- events -----------------------------------------------------------------------------
    class Approved(Record.Moved):
        pass

    class Rejected(Record.Reasoned):
        pass

    class Cancelled(Record.Reasoned):
        was: str

    class CheckedIn(Record.Moved):
        pass

    class Completed(Record.Moved):
        pass

    class MarkedNoShow(Record.Moved):
        pass

    class Expired(Record.Moved):
        pass
