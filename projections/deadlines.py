"""Deadlines the timers fire: a demand's claim deadline (expire), a confirmed claim's start
plus grace (no-show), and a booking's start (expire a request), start plus grace (no-show)
and end (complete a checked-in booking). Each row remembers the event that set it, so the timer's
events can name their cause. Rows go when the state they wait on has moved on."""
from datetime import datetime, timedelta
from functools import singledispatchmethod

from domain.booking import Booking
from domain.claim import Claim
from domain.demand import Demand
from projections.db import Database, Tx
from projections.projector import View, iso

ENDS_DEMAND_WAIT = (Demand.Started, Demand.Withdrawn, Demand.Expired, Demand.Fulfilled)
ENDS_CLAIM_WAIT = (Claim.CheckedIn, Claim.Cancelled, Claim.MarkedNoShow, Claim.Declined)
BOOKING_KINDS = ("booking.expire", "booking.no_show", "booking.complete")


class Deadlines(View):
    name = "deadlines"
    tables = ("deadlines", "deadline_subjects")
    ddl = (
        """CREATE TABLE IF NOT EXISTS deadlines (
            aggregate_id TEXT NOT NULL, kind TEXT NOT NULL, context TEXT NOT NULL, due_at TEXT NOT NULL,
            cause TEXT NOT NULL, PRIMARY KEY (aggregate_id, kind))""",
        "CREATE INDEX IF NOT EXISTS deadlines_due ON deadlines (due_at)",
        # what a later event needs to know: a demand's times, a claim's demand
        """CREATE TABLE IF NOT EXISTS deadline_subjects (
            id TEXT PRIMARY KEY, demand_id TEXT, starts_at TEXT, ends_at TEXT, claim_deadline TEXT)""",
    )

    def __init__(self, grace: timedelta):
        self.grace = grace

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, ENDS_DEMAND_WAIT):
            self._drop(tx, event, "demand.expire")
        elif isinstance(event, ENDS_CLAIM_WAIT):
            self._drop(tx, event, "claim.no_show")
        elif isinstance(event, Booking.Event):
            self._booking_moved(event, tx, context)

    @apply.register(Demand.Posted)
    @apply.register(Demand.Revised)
    def _(self, event, tx: Tx, context: str) -> None:
        tx.execute("INSERT INTO deadline_subjects (id, starts_at, claim_deadline) VALUES (%s, %s, %s) "
                   "ON CONFLICT (id) DO UPDATE SET starts_at = excluded.starts_at, "
                   "claim_deadline = excluded.claim_deadline",
                   (str(event.originator_id), iso(event.starts_at), iso(event.claim_deadline)))

    @apply.register
    def _(self, event: Demand.Approved, tx: Tx, context: str) -> None:
        demand = tx.rows("SELECT claim_deadline FROM deadline_subjects WHERE id = %s", (str(event.originator_id),))
        self._set(tx, event, context, "demand.expire", demand[0]["claim_deadline"])

    @apply.register
    def _(self, event: Claim.Made, tx: Tx, context: str) -> None:
        tx.execute("INSERT INTO deadline_subjects (id, demand_id) VALUES (%s, %s)",
                   (str(event.originator_id), event.demand_id))
        if event.status == "confirmed":
            self._no_show_at_start(tx, context, event, event.demand_id)

    @apply.register
    def _(self, event: Claim.Confirmed, tx: Tx, context: str) -> None:
        claim = tx.rows("SELECT demand_id FROM deadline_subjects WHERE id = %s", (str(event.originator_id),))
        self._no_show_at_start(tx, context, event, claim[0]["demand_id"])

    @apply.register
    def _(self, event: Booking.Requested, tx: Tx, context: str) -> None:
        tx.execute("INSERT INTO deadline_subjects (id, starts_at, ends_at) VALUES (%s, %s, %s)",
                   (str(event.originator_id), iso(event.starts_at), iso(event.ends_at)))
        self._booking_moved(event, tx, context)

    def _booking_moved(self, event, tx: Tx, context: str) -> None:
        """A booking waits on exactly one deadline for its state: expiry, no-show or completion."""
        for kind in BOOKING_KINDS:
            self._drop(tx, event, kind)
        status = getattr(event, "status", None)
        times = tx.rows("SELECT starts_at, ends_at FROM deadline_subjects WHERE id = %s",
                        (str(event.originator_id),))[0]
        if status == "requested":
            self._set(tx, event, context, "booking.expire", times["starts_at"])
        elif status == "confirmed":
            due = iso(datetime.fromisoformat(times["starts_at"]) + self.grace)
            self._set(tx, event, context, "booking.no_show", due)
        elif status == "checked_in":
            self._set(tx, event, context, "booking.complete", times["ends_at"])

    def _no_show_at_start(self, tx: Tx, context: str, event, demand_id: str) -> None:
        starts_at = tx.rows("SELECT starts_at FROM deadline_subjects WHERE id = %s", (demand_id,))[0]["starts_at"]
        self._set(tx, event, context, "claim.no_show", iso(datetime.fromisoformat(starts_at) + self.grace))

    @staticmethod
    def _set(tx: Tx, event, context: str, kind: str, due_at: str) -> None:
        tx.execute(
            "INSERT INTO deadlines (aggregate_id, kind, context, due_at, cause) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (aggregate_id, kind) DO UPDATE SET due_at = excluded.due_at, cause = excluded.cause",
            (str(event.originator_id), kind, context, due_at, f"{event.originator_id}:{event.originator_version}"),
        )

    @staticmethod
    def _drop(tx: Tx, event, kind: str) -> None:
        tx.execute("DELETE FROM deadlines WHERE aggregate_id = %s AND kind = %s", (str(event.originator_id), kind))


class DueDeadlines:
    """The query interface the timers use (wired in by api/, so workflows never imports us)."""

    def __init__(self, db: Database):
        self.db = db

    def due(self, now: datetime, limit: int = 500) -> list[dict]:
        return self.db.rows(
            "SELECT aggregate_id, kind, context, cause FROM deadlines WHERE due_at <= %s ORDER BY due_at LIMIT %s",
            (iso(now), limit),
        )

    def discard(self, aggregate_id: str, kind: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM deadlines WHERE aggregate_id = %s AND kind = %s", (aggregate_id, kind))
