"""Platform statistics: totals, and breakdowns by grid, district, grid type, category and month.

One row per (metric, dimension, key); dimension '' holds the totals. The view also keeps what
`/stats` sends, ready: one JSON object per (dimension, key) in `stats_entries`, rewritten for
the keys a batch changed (a grid's carries its name, district and type next to the numbers),
so an answer is those rows joined, not thousands of numbers gathered on each read. `demands_published`
counts demands that reached open (approval is the only way in), `claims` counts claims made
(person-times, 人次), `service_hours` sums verified hours, `venues_shared` counts active
venues (a suspended or retired venue leaves the count, a resumed one returns), `bookings`
counts bookings made; `services_shared` counts published items shared by organisations and
`policy_items` published items of departments (the joint-action list).
"""
import json
from collections import defaultdict
from functools import singledispatchmethod

from domain.booking import Booking
from domain.claim import Claim
from domain.city import CITY_TZ
from domain.demand import Demand
from domain.registry import Department, Grid, Member, Organisation
from domain.service_item import ServiceItem
from domain.venue import Venue
from projections.db import Database, Tx
from projections.projector import View
from projections.subjects import Subjects

TOTALS = ("organisations", "members", "departments", "demands_published", "claims", "venues_shared", "bookings",
          "services_shared", "policy_items", "service_hours")
DIMENSIONS = ("grid", "district", "grid_type", "category", "month")


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


class Stats(View):
    name = "stats"
    tables = ("stats", "stats_subjects", "stats_grids", "stats_entries")
    ddl = (
        """CREATE TABLE IF NOT EXISTS stats (
            metric TEXT NOT NULL, dimension TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL,
            PRIMARY KEY (metric, dimension, key))""",
        # what the breakdowns need to know about a demand or claim when a later event arrives
        """CREATE TABLE IF NOT EXISTS stats_subjects (
            id TEXT PRIMARY KEY, grid_id TEXT NOT NULL, category TEXT NOT NULL, hours REAL, active BOOLEAN,
            metric TEXT)""",
        # a grid's name and place, for its entry and its district's and type's breakdowns
        """CREATE TABLE IF NOT EXISTS stats_grids (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, district TEXT NOT NULL, type TEXT NOT NULL)""",
        # what /stats sends, one JSON object per (dimension, key): dimension '' holds the totals
        """CREATE TABLE IF NOT EXISTS stats_entries (
            dimension TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (dimension, key))""",
    )

    def __init__(self):
        self._deltas: defaultdict[tuple[str, str, str], float] = defaultdict(float)
        self._new_grids: list[tuple[str, str, str, str]] = []
        # grids never change once registered, so what this process has read of them stays true
        self._grids: dict[str, tuple[str, str, str]] = {}
        self._unknown: set[str] = set()
        self.subjects = Subjects("stats_subjects")

    def begin_batch(self, tx: Tx, context: str) -> None:
        self._deltas.clear()
        self._new_grids.clear()
        self._unknown.clear()
        self.subjects.clear()

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        """A batch's changes to each counter, summed, in one statement; then the entries of the
        keys it changed, written again from their counters (one read, one write)."""
        self.subjects.flush(tx)
        tx.executemany("INSERT INTO stats_grids (id, name, district, type) VALUES (%s, %s, %s, %s) "
                       "ON CONFLICT (id) DO NOTHING", self._new_grids)
        tx.executemany(
            "INSERT INTO stats (metric, dimension, key, value) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (metric, dimension, key) DO UPDATE SET value = stats.value + excluded.value",
            [(*k, v) for k, v in sorted(self._deltas.items())])
        touched = sorted({(dimension, key) for _, dimension, key in self._deltas}
                         | {("grid", grid[0]) for grid in self._new_grids})
        self._deltas.clear()
        self._new_grids.clear()
        if touched:
            self._write_entries(tx, touched)

    def _write_entries(self, tx: Tx, touched: list[tuple[str, str]]) -> None:
        bodies: dict[tuple[str, str], dict] = {key: {} for key in touched}
        for dimension, key in touched:
            if dimension == "":
                bodies[(dimension, key)].update({metric: 0 for metric in TOTALS})
            elif dimension == "grid" and self._grid(tx, key):
                name, district, grid_type = self._grid(tx, key)
                bodies[(dimension, key)].update(name=name, district=district, type=grid_type)
        pairs = ", ".join(["(%s, %s)"] * len(touched))
        for row in tx.rows(f"SELECT metric, dimension, key, value FROM stats WHERE (dimension, key) IN ({pairs}) "
                           "ORDER BY metric", [part for pair in touched for part in pair]):
            bodies[(row["dimension"], row["key"])][row["metric"]] = _number(row["value"])
        tx.executemany("INSERT INTO stats_entries (dimension, key, body) VALUES (%s, %s, %s) "
                       "ON CONFLICT (dimension, key) DO UPDATE SET body = excluded.body",
                       [(*key, json.dumps(body, ensure_ascii=False)) for key, body in bodies.items()])

    def _grid(self, tx: Tx, grid_id: str) -> tuple[str, str, str] | None:
        """(name, district, type) of a registered grid; the first unknown one in a batch reads them all."""
        if grid_id not in self._grids and grid_id not in self._unknown:
            self._grids.update({r["id"]: (r["name"], r["district"], r["type"])
                                for r in tx.rows("SELECT id, name, district, type FROM stats_grids")})
            if grid_id not in self._grids:
                self._unknown.add(grid_id)
        return self._grids.get(grid_id)

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        """Other events do not change the statistics."""

    @apply.register
    def _(self, event: Grid.Registered, tx: Tx, context: str) -> None:
        grid = (str(event.originator_id), event.name, event.district, event.type)
        self._new_grids.append(grid)
        self._grids[grid[0]] = grid[1:]
        self._unknown.discard(grid[0])

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
        keys = [("", ""), ("month", when.astimezone(CITY_TZ).strftime("%Y-%m"))]
        keys += [("grid", grid)] if grid else []
        place = self._grid(tx, grid) if grid else None
        keys += [("district", place[1]), ("grid_type", place[2])] if place else []
        keys += [("category", category)] if category else []
        for dimension, key in keys:
            self._deltas[(metric, dimension, key)] += amount


def positions(db: Database) -> tuple:
    """Where the read models behind /stats stand: the answer changes only when this does."""
    return tuple((r["view"], r["context"], r["position"]) for r in db.rows(
        "SELECT view, context, position FROM tracking WHERE view IN ('stats', 'services') ORDER BY view, context"))


def answer(db: Database) -> bytes:
    """What `/stats` sends: the entries the view keeps, joined as they are stored (no parsing), and
    the service requests by state and department."""
    totals, parts = None, {dimension: [] for dimension in DIMENSIONS}
    for row in db.rows("SELECT dimension, key, body FROM stats_entries"):  # JSON objects need no order
        if row["dimension"] == "":
            totals = row["body"]
        elif row["dimension"] in parts:
            parts[row["dimension"]].append(f"{json.dumps(row['key'], ensure_ascii=False)}: {row['body']}")
    totals = totals or json.dumps({metric: 0 for metric in TOTALS})
    breakdowns = ", ".join(f'"by_{dimension}": {{{", ".join(entries)}}}' for dimension, entries in parts.items())
    requests = json.dumps(_requests(db), ensure_ascii=False)
    return f'{totals[:-1]}, {breakdowns}, "service_requests": {requests}}}'.encode()


def _requests(db: Database) -> dict:
    """Requests by state and by handling department, and the share resolved within the promised time."""
    by_state = {r["status"]: r["n"] for r in db.rows(
        "SELECT status, COUNT(*) AS n FROM service_requests GROUP BY status")}
    by_department = {r["handler_id"]: {"total": r["total"], "resolved": r["resolved"], "on_time": r["on_time"]}
                     for r in db.rows(
        "SELECT handler_id, COUNT(*) AS total, COUNT(outcome) AS resolved, "
        "SUM(CASE WHEN outcome IS NOT NULL AND NOT breached THEN 1 ELSE 0 END) AS on_time "
        "FROM service_requests WHERE handler_role = 'dept' GROUP BY handler_id")}
    resolved = sum(d["resolved"] for d in by_department.values())
    on_time = sum(d["on_time"] for d in by_department.values())
    return {"total": sum(by_state.values()), "by_state": by_state, "by_department": by_department,
            "on_time_rate": round(on_time / resolved, 4) if resolved else None}
