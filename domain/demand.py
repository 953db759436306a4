"""Demand (需求): an organisation's need, reviewed by the operator, then open for claims.

The demand also keeps the live claims on it (claimant, headcount, status) and its FIFO
waitlist: it is the consistency boundary for capacity, so every claim change is saved
together with the demand and a lost race on the demand's version is retried.
"""
import copy
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain import bounds
from domain.actors import Actor, Role
from domain.base import Record, base_relations, require_rating, require_reason
from domain.errors import ValidationError
from domain.lifecycle import Lifecycle, row
from domain.place import check_location

PUBLIC_STATES = ("open", "filled", "in_progress", "fulfilled", "closed", "expired")
SEATED = ("confirmed", "checked_in", "completed", "verified")
LIVE = ("pending", "waitlisted", *SEATED)

# trigger      from                                                      to              who
LIFECYCLE = Lifecycle("demand", [
    "draft", "pending_review", "rejected", "open", "filled", "in_progress", "fulfilled", "closed",
    "withdrawn", "expired",
], [
    row("revise",   ["draft", "rejected"],                                     None,             {"owner"}),
    row("submit",   ["draft", "rejected"],                                     "pending_review", {"owner"}),
    row("approve",  "pending_review",                                          "open",           {"admin"}),
    row("reject",   "pending_review",                                          "rejected",       {"admin"}),
    row("fill",     "open",                                                    "filled",         {"system"}),
    row("reopen",   "filled",                                                  "open",           {"system"}),
    row("start",    ["open", "filled"],                                        "in_progress",    {"owner"}),
    row("fulfil",   "in_progress",                                             "fulfilled",      {"owner"}),
    row("close",    "fulfilled",                                               "closed",         {"owner", "admin"}),
    row("withdraw", ["draft", "pending_review", "rejected", "open", "filled"],  "withdrawn",      {"owner", "admin"}),
    row("expire",   "open",                                                    "expired",        {"system"}),
])

TITLE_LIMIT, TEXT_LIMIT = 200, 5000


def check_details(title: str, description: str, category: str, needed: int,
                  claim_deadline: datetime, starts_at: datetime, ends_at: datetime) -> None:
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_LIMIT:
        raise ValidationError(f"title must be 1 to {TITLE_LIMIT} characters")
    if not isinstance(description, str) or len(description) > TEXT_LIMIT:
        raise ValidationError(f"description must be at most {TEXT_LIMIT} characters")
    if not isinstance(category, str) or not category.strip() or len(category) > 64:
        raise ValidationError("category is required")
    if isinstance(needed, bool) or not isinstance(needed, int) or needed < 1 or needed > 10_000:
        raise ValidationError("needed must be an integer from 1 to 10000")
    for name, when in (("claim_deadline", claim_deadline), ("starts_at", starts_at), ("ends_at", ends_at)):
        bounds.instant(when, name)
    if not starts_at < ends_at:
        raise ValidationError("starts_at must be before ends_at")
    if claim_deadline > starts_at:
        raise ValidationError("claim_deadline must not be after starts_at")


def sees_every_demand(actor: Actor | None) -> bool:
    return actor is not None and actor.role in (Role.ADMIN, Role.AUDITOR, Role.SYSTEM)


def relations(actor: Actor, organisation_id: str) -> set[str]:
    """The owner is the posting organisation's account; admin and system are themselves."""
    if actor.role is Role.ORG and actor.id == organisation_id:
        return {"owner"}
    return base_relations(actor)


class Demand(Record):
    lifecycle = LIFECYCLE

    @staticmethod
    def post(id: UUID, by: Actor, organisation_id: str, title: str, description: str, category: str,
             grid_id: str, needed: int, claim_deadline: datetime, starts_at: datetime, ends_at: datetime,
             auto_confirm: bool, location: dict | None = None) -> "Demand":
        check_details(title, description, category, needed, claim_deadline, starts_at, ends_at)
        return Demand(id=id, organisation_id=organisation_id, title=title.strip(), description=description,
                      category=category.strip(), grid_id=grid_id, needed=needed, claim_deadline=claim_deadline,
                      starts_at=starts_at, ends_at=ends_at, auto_confirm=bool(auto_confirm),
                      location=check_location(location))

    class Posted(Record.Created):
        organisation_id: str
        title: str
        description: str
        category: str
        grid_id: str
        needed: int
        claim_deadline: datetime
        starts_at: datetime
        ends_at: datetime
        auto_confirm: bool
        location: dict | None  # added with Open311: events stored before it have none

    @event(Posted)
    def __init__(self, id: UUID, organisation_id: str, title: str, description: str, category: str,
                 grid_id: str, needed: int, claim_deadline: datetime, starts_at: datetime, ends_at: datetime,
                 auto_confirm: bool, location: dict | None = None):
        self.organisation_id, self.grid_id, self.location = organisation_id, grid_id, location
        self._set_details(title, description, category, needed, claim_deadline, starts_at, ends_at)
        self.auto_confirm = auto_confirm
        self.status = "draft"
        self.reason: str | None = None
        self.rating: int | None = None
        self.feedback: str | None = None
        self.claims: dict[str, dict] = {}
        self.waitlist: list[str] = []

    def _set_details(self, title, description, category, needed, claim_deadline, starts_at, ends_at) -> None:
        self.title, self.description, self.category, self.needed = title, description, category, needed
        self.claim_deadline, self.starts_at, self.ends_at = claim_deadline, starts_at, ends_at

    def relations(self, actor: Actor) -> set[str]:
        return relations(actor, self.organisation_id)

    def visible_to(self, actor: Actor | None) -> bool:
        """Drafts and demands under review are seen by their owner, the operator, auditors and
        the system only; to anyone else they do not exist."""
        return self.status in PUBLIC_STATES or sees_every_demand(actor) or (
            actor is not None and actor.role is Role.ORG and actor.id == self.organisation_id)

    def __deepcopy__(self, memo: dict) -> "Demand":
        """Commands get a copy of the cached demand (api/wiring.py). Everything but the claim book
        is immutable, so copying that book is enough, and several times cheaper than the generic
        deep copy of a demand with many claims (measured under the claims load)."""
        clone = copy.copy(self)
        clone.claims = {claim_id: dict(claim) for claim_id, claim in self.claims.items()}
        clone.waitlist = list(self.waitlist)
        clone._pending_events = list(self._pending_events)
        return clone

    @property
    def confirmed(self) -> int:
        return sum(c["headcount"] for c in self.claims.values() if c["status"] in SEATED)

    @property
    def seats_free(self) -> int:
        return self.needed - self.confirmed

    def live_claim_of(self, claimant: str) -> str | None:
        return next((cid for cid, c in self.claims.items() if c["claimant"] == claimant), None)

    def count(self, *statuses: str) -> int:
        return sum(1 for c in self.claims.values() if c["status"] in statuses)

    # -- commands ---------------------------------------------------------------------------
    def revise(self, by: Actor, **changes) -> None:
        """Edit details; fields not given keep their value."""
        self._decide("revise", by)
        fields = {k: changes[k] if changes.get(k) is not None else getattr(self, k) for k in (
            "title", "description", "category", "needed", "claim_deadline", "starts_at", "ends_at")}
        check_details(**fields)
        self._revised(**fields)

    def submit(self, by: Actor) -> None:
        self.trigger_event(self.Submitted, status=self._decide("submit", by))

    def approve(self, by: Actor) -> None:
        self.trigger_event(self.Approved, status=self._decide("approve", by))

    def reject(self, by: Actor, reason: str | None = None) -> None:
        status = self._decide("reject", by)
        self.trigger_event(self.Rejected, status=status, reason=require_reason(reason))

    def fill(self, by: Actor) -> None:
        self.trigger_event(self.Filled, status=self._decide("fill", by))

    def reopen(self, by: Actor) -> None:
        self.trigger_event(self.Reopened, status=self._decide("reopen", by))

    def start(self, by: Actor) -> None:
        status = self._decide("start", by)
        self._guard(self.count("confirmed") >= 1, "start", by, "starting needs at least one confirmed claim")
        self.trigger_event(self.Started, status=status)

    def fulfil(self, by: Actor) -> None:
        status = self._decide("fulfil", by)
        self._guard(self.count("confirmed", "checked_in") == 0, "fulfil", by,
                    "claims are still confirmed or checked in: complete, cancel or mark them no-show first")
        self.trigger_event(self.Fulfilled, status=status)

    def close(self, by: Actor, rating: int | None = None, feedback: str | None = None) -> None:
        status = self._decide("close", by)
        self._closed(status=status, rating=require_rating(rating), feedback=feedback)

    def withdraw(self, by: Actor, reason: str | None = None) -> None:
        status = self._decide("withdraw", by)
        self.trigger_event(self.Withdrawn, status=status, reason=require_reason(reason))

    def expire(self, by: Actor, now: datetime) -> None:
        status = self._decide("expire", by)
        self._guard(now >= self.claim_deadline and self.confirmed == 0, "expire", by,
                    "a demand expires only after its claim deadline with no confirmed claim")
        self.trigger_event(self.Expired, status=status)

    def note_claim(self, claim_id: str, claimant: str, headcount: int, status: str) -> None:
        """Record a claim's new status here, so capacity is decided on the demand's version."""
        if status in LIVE:
            self._claim_noted(claim_id=claim_id, claimant=claimant, headcount=headcount, claim_status=status)
        elif claim_id in self.claims:
            self._claim_dropped(claim_id=claim_id)

    # -- events -----------------------------------------------------------------------------
    class Revised(Record.Event):
        title: str
        description: str
        category: str
        needed: int
        claim_deadline: datetime
        starts_at: datetime
        ends_at: datetime

    @event(Revised)
    def _revised(self, title, description, category, needed, claim_deadline, starts_at, ends_at) -> None:
        self._set_details(title, description, category, needed, claim_deadline, starts_at, ends_at)

    class Submitted(Record.Moved):
        pass

    class Approved(Record.Cleared):
        pass

    class Rejected(Record.Reasoned):
        pass

    class Filled(Record.Moved):
        pass

    class Reopened(Record.Moved):
        pass

    class Started(Record.Moved):
        pass

    class Fulfilled(Record.Moved):
        pass

    class Closed(Record.Event):
        status: str
        rating: int
        feedback: str | None

    @event(Closed)
    def _closed(self, status: str, rating: int, feedback: str | None) -> None:
        self.status, self.rating, self.feedback = status, rating, feedback

    class Withdrawn(Record.Reasoned):
        pass

    class Expired(Record.Moved):
        pass

    class ClaimNoted(Record.Event):
        """A claim on this demand changed (its status is the claim's, not the demand's)."""

        claim_id: str
        claimant: str
        headcount: int
        claim_status: str

    @event(ClaimNoted)
    def _claim_noted(self, claim_id: str, claimant: str, headcount: int, claim_status: str) -> None:
        self.claims[claim_id] = {"claimant": claimant, "headcount": headcount, "status": claim_status}
        if claim_status == "waitlisted" and claim_id not in self.waitlist:
            self.waitlist.append(claim_id)
        elif claim_status != "waitlisted" and claim_id in self.waitlist:
            self.waitlist.remove(claim_id)

    class ClaimDropped(Record.Event):
        claim_id: str

    @event(ClaimDropped)
    def _claim_dropped(self, claim_id: str) -> None:
        del self.claims[claim_id]
        if claim_id in self.waitlist:
            self.waitlist.remove(claim_id)
