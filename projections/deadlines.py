"""Deadlines the timers fire, each remembering the event that set it (the timer's cause):

- a demand's claim deadline (expire) and a confirmed claim's start plus grace (no-show);
- a booking's start (expire a request), start plus grace (no-show), end (complete a check-in);
- a service request's SLA warning (75%) and breach (100%) while its clock runs;
- a published item's valid_to (retire).

Rows go when the state they wait on has moved on; a row that fires into a state that has
moved on anyway is discarded by the timer. `deadline_subjects` keeps what later events need.
"""
from datetime import datetime, timedelta
from functools import singledispatchmethod

from domain import sla
from domain.booking import Booking
from domain.claim import Claim
from domain.demand import SEATED, Demand
from domain.service_item import ServiceItem
from domain.service_request import ServiceRequest
from projections.db import Database, Tx
from projections.projector import View, iso
from projections.rows import Rows
from projections.subjects import Subjects

ENDS_DEMAND_WAIT = (Demand.Started, Demand.Withdrawn, Demand.Expired, Demand.Fulfilled)
ENDS_CLAIM_WAIT = (Claim.CheckedIn, Claim.Declined)
BOOKING_KINDS = ("booking.expire", "booking.no_show", "booking.complete")
JUST_AFTER = timedelta(seconds=1)  # no-show comes once start + grace has passed: check-in is open until then


class Deadlines(View):
    name = "deadlines"
    tables = ("deadlines", "deadline_subjects")
    ddl = (
        """CREATE TABLE IF NOT EXISTS deadlines (
            aggregate_id TEXT NOT NULL, kind TEXT NOT NULL, context TEXT NOT NULL, due_at TEXT NOT NULL,
            cause TEXT NOT NULL, PRIMARY KEY (aggregate_id, kind))""",
        "CREATE INDEX IF NOT EXISTS deadlines_due ON deadlines (due_at)",
        """CREATE TABLE IF NOT EXISTS deadline_subjects (
            id TEXT PRIMARY KEY, demand_id TEXT, starts_at TEXT, ends_at TEXT, claim_deadline TEXT,
            valid_to TEXT, staged_valid_to TEXT, promised_days INTEGER, consumed REAL, demand_status TEXT,
            seated INTEGER NOT NULL DEFAULT 0)""",
    )

    def __init__(self, grace: timedelta):
        self.grace = grace
        self.subjects = Subjects("deadline_subjects")
        self.deadlines = Rows("deadlines", ("aggregate_id", "kind"))

    def begin_batch(self, tx: Tx, context: str) -> None:
        self.subjects.clear()
        self.deadlines.clear()

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        self.subjects.flush(tx)
        self.deadlines.flush(tx)

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, ENDS_DEMAND_WAIT):
            self._remember(tx, event, demand_status="done")
            self._drop(tx, event, "demand.expire")
        elif isinstance(event, ENDS_CLAIM_WAIT):
            self._drop(tx, event, "claim.no_show")
        elif isinstance(event, Booking.Event):
            self._booking_moved(event, tx, context)
        elif isinstance(event, ServiceRequest.SlaWarning):
            self._drop(tx, event, "sla.warning")
        elif isinstance(event, ServiceRequest.SlaBreached):
            self._drop(tx, event, "sla.breach")
        elif isinstance(event, ServiceItem.Retired | ServiceItem.Discarded):
            self._drop(tx, event, "item.retire")

    # -- demands and claims ------------------------------------------------------------------
    @apply.register
    def _(self, event: Demand.Posted, tx: Tx, context: str) -> None:
        self._remember(tx, event, starts_at=iso(event.starts_at), claim_deadline=iso(event.claim_deadline), seated=0)

    @apply.register
    def _(self, event: Demand.Revised, tx: Tx, context: str) -> None:
        self._remember(tx, event, starts_at=iso(event.starts_at), claim_deadline=iso(event.claim_deadline))

    @apply.register(Demand.Approved)
    @apply.register(Demand.Reopened)
    def _(self, event, tx: Tx, context: str) -> None:
        """Open: it expires at its claim deadline unless someone is confirmed by then."""
        self._remember(tx, event, demand_status="open")
        self._arm_expiry(tx, event, context, str(event.originator_id))

    @apply.register
    def _(self, event: Demand.Filled, tx: Tx, context: str) -> None:
        self._remember(tx, event, demand_status="filled")

    @apply.register(Claim.Cancelled)
    @apply.register(Claim.MarkedNoShow)
    def _(self, event, tx: Tx, context: str) -> None:
        self._drop(tx, event, "claim.no_show")
        if isinstance(event, Claim.MarkedNoShow) or event.was in SEATED:
            demand_id = self._subject(tx, event.originator_id)["demand_id"]
            self._seat(tx, demand_id, -1)
            self._arm_expiry(tx, event, context, demand_id)

    @apply.register
    def _(self, event: Claim.Made, tx: Tx, context: str) -> None:
        self._remember(tx, event, demand_id=event.demand_id)
        if event.status == "confirmed":
            self._seated(tx, context, event, event.demand_id)

    @apply.register
    def _(self, event: Claim.Confirmed, tx: Tx, context: str) -> None:
        self._seated(tx, context, event, self._subject(tx, event.originator_id)["demand_id"])

    def _seated(self, tx: Tx, context: str, event, demand_id: str) -> None:
        """A confirmed claim: it may not show up; its demand can no longer expire meanwhile."""
        self._seat(tx, demand_id, +1)
        self.deadlines.delete((demand_id, "demand.expire"))
        self._no_show_at_start(tx, context, event, demand_id)

    def _seat(self, tx: Tx, demand_id: str, change: int) -> None:
        self.subjects.add(tx, demand_id, "seated", change)

    def _arm_expiry(self, tx: Tx, event, context: str, demand_id: str) -> None:
        demand = self._subject(tx, demand_id)
        if demand["demand_status"] == "open" and demand["seated"] == 0:
            self._set(tx, event, context, "demand.expire", demand["claim_deadline"], aggregate_id=demand_id)

    def _no_show_at_start(self, tx: Tx, context: str, event, demand_id: str) -> None:
        starts_at = self._subject(tx, demand_id)["starts_at"]
        self._set(tx, event, context, "claim.no_show",
                  iso(datetime.fromisoformat(starts_at) + self.grace + JUST_AFTER))

    # -- bookings --------------------------------------------------------------------------------
    @apply.register
    def _(self, event: Booking.Requested, tx: Tx, context: str) -> None:
        self._remember(tx, event, starts_at=iso(event.starts_at), ends_at=iso(event.ends_at))
        self._booking_moved(event, tx, context)

    def _booking_moved(self, event, tx: Tx, context: str) -> None:
        """A booking waits on exactly one deadline for its state: expiry, no-show or completion."""
        for kind in BOOKING_KINDS:
            self._drop(tx, event, kind)
        status, times = getattr(event, "status", None), self._subject(tx, event.originator_id)
        if status == "requested":
            self._set(tx, event, context, "booking.expire", times["starts_at"])
        elif status == "confirmed":
            self._set(tx, event, context, "booking.no_show",
                      iso(datetime.fromisoformat(times["starts_at"]) + self.grace + JUST_AFTER))
        elif status == "checked_in":
            self._set(tx, event, context, "booking.complete", times["ends_at"])

    # -- service items and requests ----------------------------------------------------------------
    @apply.register
    def _(self, event: ServiceItem.Drafted, tx: Tx, context: str) -> None:
        self._remember(tx, event, valid_to=event.content.get("valid_to"))

    @apply.register
    def _(self, event: ServiceItem.Published, tx: Tx, context: str) -> None:
        valid_to = self._subject(tx, event.originator_id)["valid_to"]
        if valid_to:
            self._set(tx, event, context, "item.retire", valid_to)

    @apply.register
    def _(self, event: ServiceItem.RevisionStaged, tx: Tx, context: str) -> None:
        self._remember(tx, event, staged_valid_to=event.revision.get("valid_to"))

    @apply.register
    def _(self, event: ServiceItem.RevisionPublished, tx: Tx, context: str) -> None:
        valid_to = self._subject(tx, event.originator_id)["staged_valid_to"]
        self._remember(tx, event, valid_to=valid_to)
        self._drop(tx, event, "item.retire")
        if valid_to:
            self._set(tx, event, context, "item.retire", valid_to)

    @apply.register
    def _(self, event: ServiceRequest.Filed, tx: Tx, context: str) -> None:
        self._remember(tx, event, promised_days=event.promised_days, consumed=0.0)

    @apply.register(ServiceRequest.Accepted)
    @apply.register(ServiceRequest.Resumed)
    @apply.register(ServiceRequest.Reopened)
    def _(self, event, tx: Tx, context: str) -> None:
        """The clock runs (again): warning and breach fall due on what is left of the budget."""
        subject = self._subject(tx, event.originator_id)
        warning_at, due_at = sla.thresholds(subject["promised_days"], subject["consumed"], event.at)
        self._set(tx, event, context, "sla.warning", iso(warning_at))
        self._set(tx, event, context, "sla.breach", iso(due_at))

    @apply.register(ServiceRequest.Paused)
    @apply.register(ServiceRequest.Resolved)
    @apply.register(ServiceRequest.Withdrawn)
    def _(self, event, tx: Tx, context: str) -> None:
        self._remember(tx, event, consumed=event.consumed)
        self._drop(tx, event, "sla.warning")
        self._drop(tx, event, "sla.breach")

    # -- rows --------------------------------------------------------------------------------------
    def _remember(self, tx: Tx, event, **columns) -> None:
        self.subjects.remember(tx, event.originator_id, **columns)

    def _subject(self, tx: Tx, subject_id) -> dict:
        return self.subjects.get(tx, subject_id)

    def _set(self, tx: Tx, event, context: str, kind: str, due_at: str, aggregate_id: str | None = None) -> None:
        """A deadline on the event's aggregate (or another one it affects), caused by the event."""
        self.deadlines.upsert((aggregate_id or str(event.originator_id), kind), context=context, due_at=due_at,
                              cause=f"{event.originator_id}:{event.originator_version}")

    def _drop(self, tx: Tx, event, kind: str) -> None:
        self.deadlines.delete((str(event.originator_id), kind))


class DueDeadlines:
    """The query interface the timers use (wired in by api/, so workflows never imports us)."""

    def __init__(self, db: Database):
        self.db = db

    def due(self, now: datetime, limit: int = 500) -> list[dict]:
        return self.db.rows(
            "SELECT aggregate_id, kind, context, cause, due_at FROM deadlines WHERE due_at <= %s "
            "ORDER BY due_at, aggregate_id, kind LIMIT %s",
            (iso(now), limit),
        )

    def discard(self, aggregate_id: str, kind: str, cause: str) -> None:
        """Forget a deadline that fired to no effect, unless a newer event has set it again meanwhile."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM deadlines WHERE aggregate_id = %s AND kind = %s AND cause = %s",
                       (aggregate_id, kind, cause))
