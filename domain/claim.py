"""Claim (认领): a member or organisation taking on a demand, counted in person-times."""
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.domain import event

from domain.actors import Actor, Role
from domain.base import Record, base_relations, require_rating, require_reason
from domain.errors import ValidationError
from domain.lifecycle import Lifecycle, row

# trigger      from                                       to            who
LIFECYCLE = Lifecycle("claim", [
    "pending", "waitlisted", "confirmed", "declined", "cancelled", "checked_in", "completed", "verified",
    "no_show",
], [
    row("confirm",  ["pending", "waitlisted"],                "confirmed",  {"owner", "system"}),
    row("waitlist", "pending",                                "waitlisted", {"owner"}),
    row("decline",  ["pending", "waitlisted"],                "declined",   {"owner", "system"}),
    row("cancel",   ["pending", "waitlisted", "confirmed"],   "cancelled",  {"claimant", "owner", "system"}),
    row("check_in", "confirmed",                              "checked_in", {"claimant", "owner"}),
    row("complete", "checked_in",                             "completed",  {"claimant", "owner"}),
    row("verify",   "completed",                              "verified",   {"owner"}),
    row("no_show",  "confirmed",                              "no_show",    {"owner", "system"}),
])


def relations(actor: Actor, owner_id: str, claimant_role: str, claimant_id: str) -> set[str]:
    """The owner is the demand's organisation; the claimant is whoever made the claim."""
    found = base_relations(actor)
    if actor.role is Role.ORG and actor.id == owner_id:
        found.add("owner")
    if actor.role.value == claimant_role and actor.id == claimant_id:
        found.add("claimant")
    return found


class Claim(Record):
    """The claim's own lifecycle; capacity is kept by its demand (see domain.claiming)."""

    lifecycle = LIFECYCLE

    class Made(Record.Created):
        demand_id: str
        owner_id: str
        claimant_id: str
        claimant_role: str
        headcount: int
        note: str
        status: str

    @event(Made)
    def __init__(self, id: UUID, demand_id: str, owner_id: str, claimant_id: str, claimant_role: str,
                 headcount: int, note: str, status: str):
        self.demand_id, self.owner_id = demand_id, owner_id
        self.claimant_id, self.claimant_role = claimant_id, claimant_role
        self.headcount, self.note, self.status = headcount, note, status
        self.hours: float | None = None
        self.rating: int | None = None
        self.reason: str | None = None

    @property
    def claimant(self) -> str:
        return f"{self.claimant_role}:{self.claimant_id}"

    def relations(self, actor: Actor) -> set[str]:
        return relations(actor, self.owner_id, self.claimant_role, self.claimant_id)

    # -- commands (capacity and demand state are checked by domain.claiming) ---------------
    def confirm(self, by: Actor) -> None:
        self.trigger_event(self.Confirmed, status=self._decide("confirm", by))

    def waitlist(self, by: Actor) -> None:
        self.trigger_event(self.Waitlisted, status=self._decide("waitlist", by))

    def decline(self, by: Actor, reason: str | None = None) -> None:
        status = self._decide("decline", by)
        self.trigger_event(self.Declined, status=status, reason=require_reason(reason))

    def cancel(self, by: Actor, reason: str | None = None) -> None:
        self.trigger_event(self.Cancelled, status=self._decide("cancel", by), was=self.status, reason=reason)

    def check_in(self, by: Actor, demand_status: str) -> None:
        status = self._decide("check_in", by)
        self._guard(demand_status == "in_progress", "check_in", by, "check-in opens when the demand is in progress")
        self.trigger_event(self.CheckedIn, status=status)

    def complete(self, by: Actor, hours: float | None = None) -> None:
        status = self._decide("complete", by)
        if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24:
            raise ValidationError("hours must be more than 0 and at most 24")
        self._completed(status=status, hours=float(hours))

    def verify(self, by: Actor, rating: int | None = None) -> None:
        status = self._decide("verify", by)
        self._verified(status=status, rating=require_rating(rating))

    def no_show(self, by: Actor, now: datetime, starts_at: datetime, grace: timedelta) -> None:
        status = self._decide("no_show", by)
        self._guard(now > starts_at + grace, "no_show", by, "no-show may be marked only after the start plus grace")
        self.trigger_event(self.MarkedNoShow, status=status)

    # -- events -----------------------------------------------------------------------------
    class Confirmed(Record.Moved):
        pass

    class Waitlisted(Record.Moved):
        pass

    class Declined(Record.Reasoned):
        pass

    class Cancelled(Record.Reasoned):
        was: str

    class CheckedIn(Record.Moved):
        pass

    class Completed(Record.Event):
        status: str
        hours: float

    @event(Completed)
    def _completed(self, status: str, hours: float) -> None:
        self.status, self.hours = status, hours

    class Verified(Record.Event):
        status: str
        rating: int

    @event(Verified)
    def _verified(self, status: str, rating: int) -> None:
        self.status, self.rating = status, rating

    class MarkedNoShow(Record.Moved):
        pass
