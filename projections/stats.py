"""Platform statistics: totals, and breakdowns by grid, category and month.

One row per (metric, dimension, key); dimension '' holds the totals. `demands_published`
counts demands that reached open (approval is the only way in), `claims` counts claims made
(person-times, 人次), `service_hours` sums verified hours, `venues_shared` counts active
venues (a suspended or retired venue leaves the count, a resumed one returns), `bookings`
counts bookings made; `services_shared` counts published items shared by organisations and
`policy_items` published items of departments (the joint-action list).
"""
from collections import defaultdict
from functools import singledispatchmethod

from domain.booking import Booking
from domain.claim import Claim
from domain.demand import Demand
from domain.registry import Department, Member, Organisation
from domain.service_item import ServiceItem
from domain.venue import Venue
from projections.db import Database, Tx
from projections.projector import View
from projections.subjects import Subjects


class Stats(View):
    name = "stats"
    tables = ("stats", "stats_subjects")
    ddl = (
        """CREATE TABLE IF NOT EXISTS stats (
            metric TEXT NOT NULL, dimension TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL,
            PRIMARY KEY (metric, dimension, key))""",
        # what the breakdowns need to know about a demand or claim when a later event arrives
        """CREATE TABLE IF NOT EXISTS stats_subjects (
            id TEXT PRIMARY KEY, grid_id TEXT NOT NULL, category TEXT NOT NULL, hours REAL, active BOOLEAN,
            metric TEXT)""",
    )

    def __init__(self):
        self._deltas: defaultdict[tuple[str, str, str], float] = defaultdict(float)
        self.subjects = Subjects("stats_subjects")

    def begin_batch(self, tx: Tx, context: str) -> None:
        self._deltas.clear()
        self.subjects.clear()

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        """A batch's changes to each counter, summed, in one write per counter."""
        tx.executemany(
            "INSERT INTO stats (metric, dimension, key, value) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (metric, dimension, key) DO UPDATE SET value = stats.value + excluded.value",
            [(*k, v) for k, v in sorted(self._deltas.items())])
        self._deltas.clear()

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        """Other events do not change the statistics."""

    @apply.register
    def _(self, event: Organisation.Registered, tx: Tx, context: str) -> None:
        self._add(tx, "organisations", 1, event.grid_id, None, event.timestamp)

    @apply.register
    def _(self, event: Member.Registered, tx: Tx, context: str) -> None:
        self._add(tx, "members", 1, event.grid_id, None, event.timestamp)

    @apply.register
    def _(self, event: Demand.Posted, tx: Tx, context: str) -> None:
        self.subjects.remember(tx, event.originator_id, grid_id=event.grid_id, category=event.category)

    @apply.register
    def _(self, event: Demand.Revised, tx: Tx, context: str) -> None:
        self.subjects.update(tx, event.originator_id, category=event.category)

    @apply.register
    def _(self, event: Demand.Approved, tx: Tx, context: str) -> None:
        grid, category = self._subject(tx, str(event.originator_id))
        self._add(tx, "demands_published", 1, grid, category, event.timestamp)

    @apply.register
    def _(self, event: Claim.Made, tx: Tx, context: str) -> None:
        grid, category = self._subject(tx, event.demand_id)
        self.subjects.remember(tx, event.originator_id, grid_id=grid, category=category)
        self._add(tx, "claims", event.headcount, grid, category, event.timestamp)

    @apply.register
    def _(self, event: Claim.Completed, tx: Tx, context: str) -> None:
        self.subjects.update(tx, event.originator_id, hours=event.hours)

    @apply.register
    def _(self, event: Claim.Verified, tx: Tx, context: str) -> None:
        row = self.subjects.get(tx, event.originator_id)
        self._add(tx, "service_hours", row["hours"] or 0, row["grid_id"], row["category"], event.timestamp)

    @apply.register
    def _(self, event: Venue.Shared, tx: Tx, context: str) -> None:
        self.subjects.remember(tx, event.originator_id, grid_id=event.grid_id, category="venue", active=True)
        self._add(tx, "venues_shared", 1, event.grid_id, None, event.timestamp)

    @apply.register(Venue.Suspended)
    @apply.register(Venue.Resumed)
    @apply.register(Venue.Retired)
    def _(self, event, tx: Tx, context: str) -> None:
        self._activity(tx, event, "venues_shared", event.status == "active")

    @apply.register
    def _(self, event: Department.Registered, tx: Tx, context: str) -> None:
        self._add(tx, "departments", 1, None, None, event.timestamp)

    @apply.register
    def _(self, event: ServiceItem.Drafted, tx: Tx, context: str) -> None:
        metric = "policy_items" if event.provider_role == "dept" else "services_shared"
        self.subjects.remember(tx, event.originator_id, grid_id="", category=event.content["category"], active=False,
                               metric=metric)

    @apply.register(ServiceItem.Published)
    @apply.register(ServiceItem.Suspended)
    @apply.register(ServiceItem.Resumed)
    @apply.register(ServiceItem.Retired)
    def _(self, event, tx: Tx, context: str) -> None:
        metric = self.subjects.get(tx, event.originator_id)["metric"]
        self._activity(tx, event, metric, event.status == "published", by_grid=False)

    def _activity(self, tx: Tx, event, metric: str, active_now: bool, by_grid: bool = True) -> None:
        """Count a venue or item while it is active/published: leaving subtracts, returning adds."""
        subject_id = str(event.originator_id)
        row = self.subjects.get(tx, subject_id)
        if bool(row["active"]) != active_now:
            grid = row["grid_id"] if by_grid else None
            category = None if by_grid else row["category"]
            self._add(tx, metric, 1 if active_now else -1, grid, category, event.timestamp)
            self.subjects.update(tx, subject_id, active=active_now)

    @apply.register
    def _(self, event: Booking.Requested, tx: Tx, context: str) -> None:
        grid, _ = self._subject(tx, event.venue_id)
        self._add(tx, "bookings", 1, grid, None, event.timestamp)

    def _subject(self, tx: Tx, subject_id: str) -> tuple[str, str]:
        row = self.subjects.get(tx, subject_id)
        return row["grid_id"], row["category"]

    def _add(self, tx: Tx, metric: str, amount: float, grid: str | None, category: str | None, when) -> None:
        keys = [("", ""), ("month", when.strftime("%Y-%m"))]
        keys += [("grid", grid)] if grid else []
        keys += [("category", category)] if category else []
        for dimension, key in keys:
            self._deltas[(metric, dimension, key)] += amount


def moved(db: Database) -> tuple:
    """Where the read models behind /stats stand: the answer changes only when this does."""
    return tuple((r["view"], r["context"], r["position"]) for r in db.rows(
        "SELECT view, context, position FROM tracking WHERE view IN ('stats', 'services') ORDER BY view, context"))


def figures(db: Database) -> list[dict]:
    return db.rows("SELECT metric, dimension, key, value FROM stats")
