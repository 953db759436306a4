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
from projections.db import Tx
from projections.projector import View


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

    def begin_batch(self, tx: Tx, context: str) -> None:
        self._deltas.clear()

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
        tx.execute("INSERT INTO stats_subjects (id, grid_id, category) VALUES (%s, %s, %s)",
                   (str(event.originator_id), event.grid_id, event.category))

    @apply.register
    def _(self, event: Demand.Revised, tx: Tx, context: str) -> None:
        tx.execute("UPDATE stats_subjects SET category = %s WHERE id = %s", (event.category, str(event.originator_id)))

    @apply.register
    def _(self, event: Demand.Approved, tx: Tx, context: str) -> None:
        grid, category = self._subject(tx, str(event.originator_id))
        self._add(tx, "demands_published", 1, grid, category, event.timestamp)

    @apply.register
    def _(self, event: Claim.Made, tx: Tx, context: str) -> None:
        grid, category = self._subject(tx, event.demand_id)
        tx.execute("INSERT INTO stats_subjects (id, grid_id, category) VALUES (%s, %s, %s)",
                   (str(event.originator_id), grid, category))
        self._add(tx, "claims", event.headcount, grid, category, event.timestamp)

    @apply.register
    def _(self, event: Claim.Completed, tx: Tx, context: str) -> None:
        tx.execute("UPDATE stats_subjects SET hours = %s WHERE id = %s", (event.hours, str(event.originator_id)))

    @apply.register
    def _(self, event: Claim.Verified, tx: Tx, context: str) -> None:
        row = tx.rows("SELECT grid_id, category, hours FROM stats_subjects WHERE id = %s", (str(event.originator_id),))[0]
        self._add(tx, "service_hours", row["hours"] or 0, row["grid_id"], row["category"], event.timestamp)

    @apply.register
    def _(self, event: Venue.Shared, tx: Tx, context: str) -> None:
        tx.execute("INSERT INTO stats_subjects (id, grid_id, category, active) VALUES (%s, %s, %s, %s)",
                   (str(event.originator_id), event.grid_id, "venue", True))
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
        tx.execute("INSERT INTO stats_subjects (id, grid_id, category, active, metric) VALUES (%s, '', %s, %s, %s)",
                   (str(event.originator_id), event.content["category"], False, metric))

    @apply.register(ServiceItem.Published)
    @apply.register(ServiceItem.Suspended)
    @apply.register(ServiceItem.Resumed)
    @apply.register(ServiceItem.Retired)
    def _(self, event, tx: Tx, context: str) -> None:
        metric = tx.rows("SELECT metric FROM stats_subjects WHERE id = %s", (str(event.originator_id),))[0]["metric"]
        self._activity(tx, event, metric, event.status == "published", by_grid=False)

    def _activity(self, tx: Tx, event, metric: str, active_now: bool, by_grid: bool = True) -> None:
        """Count a venue or item while it is active/published: leaving subtracts, returning adds."""
        subject_id = str(event.originator_id)
        row = tx.rows("SELECT grid_id, category, active FROM stats_subjects WHERE id = %s", (subject_id,))[0]
        if bool(row["active"]) != active_now:
            grid = row["grid_id"] if by_grid else None
            category = None if by_grid else row["category"]
            self._add(tx, metric, 1 if active_now else -1, grid, category, event.timestamp)
            tx.execute("UPDATE stats_subjects SET active = %s WHERE id = %s", (active_now, subject_id))

    @apply.register
    def _(self, event: Booking.Requested, tx: Tx, context: str) -> None:
        grid, _ = self._subject(tx, event.venue_id)
        self._add(tx, "bookings", 1, grid, None, event.timestamp)

    @staticmethod
    def _subject(tx: Tx, subject_id: str) -> tuple[str, str]:
        row = tx.rows("SELECT grid_id, category FROM stats_subjects WHERE id = %s", (subject_id,))[0]
        return row["grid_id"], row["category"]

    def _add(self, tx: Tx, metric: str, amount: float, grid: str | None, category: str | None, when) -> None:
        keys = [("", ""), ("month", when.strftime("%Y-%m"))]
        keys += [("grid", grid)] if grid else []
        keys += [("category", category)] if category else []
        for dimension, key in keys:
            self._deltas[(metric, dimension, key)] += amount
