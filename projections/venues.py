"""The venue list and the bookings of each venue and each requester."""
import json
from datetime import date, datetime, time
from functools import singledispatchmethod

from domain.booking import HOLDS_SLOT, Booking
from domain.city import CITY_TZ
from domain.personal import ERASED
from domain.registry import Member
from domain.schedule import free_intervals
from domain.venue import Venue
from projections.db import Database, Tx
from projections.paging import Found, Where, page
from projections.projector import View, iso, moved
from projections.rows import Rows


class VenueDirectory(View):
    name = "venues"
    tables = ("venues", "bookings")
    ddl = (
        """CREATE TABLE IF NOT EXISTS venues (
            id TEXT PRIMARY KEY, organisation_id TEXT NOT NULL, name TEXT NOT NULL, address TEXT NOT NULL,
            grid_id TEXT NOT NULL, capacity INTEGER NOT NULL, opens_at TEXT NOT NULL, closes_at TEXT NOT NULL,
            requires_approval BOOLEAN NOT NULL, min_notice_hours INTEGER NOT NULL, max_advance_days INTEGER NOT NULL,
            cancel_lock_hours INTEGER NOT NULL, blackouts TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS venues_grid ON venues (grid_id, created_at)",
        """CREATE TABLE IF NOT EXISTS bookings (
            id TEXT PRIMARY KEY, venue_id TEXT NOT NULL, owner_id TEXT NOT NULL, requester_id TEXT NOT NULL,
            requester_role TEXT NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, day TEXT NOT NULL,
            attendees INTEGER NOT NULL, purpose TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
            version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS bookings_venue ON bookings (venue_id, starts_at)",
        "CREATE INDEX IF NOT EXISTS bookings_requester ON bookings (requester_id, starts_at)",
        "CREATE INDEX IF NOT EXISTS bookings_day ON bookings (day, status)",
    )

    def __init__(self):
        self.venues, self.bookings = Rows("venues"), Rows("bookings")  # written once per batch

    def begin_batch(self, tx: Tx, context: str) -> None:
        self.venues.clear()
        self.bookings.clear()

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        self.venues.flush(tx)
        self.bookings.flush(tx)

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, Venue.Event):
            self.venues.update(str(event.originator_id), **moved(event))
        elif isinstance(event, Booking.Event):
            self.bookings.update(str(event.originator_id), **moved(event, ("status", "reason")))

    @apply.register
    def _(self, event: Venue.Shared, tx: Tx, context: str) -> None:
        self.venues.insert(
            str(event.originator_id), organisation_id=event.organisation_id, name=event.name, address=event.address,
            grid_id=event.grid_id, capacity=event.capacity, opens_at=event.opens_at, closes_at=event.closes_at,
            requires_approval=event.requires_approval, min_notice_hours=event.min_notice_hours,
            max_advance_days=event.max_advance_days, cancel_lock_hours=event.cancel_lock_hours,
            blackouts=json.dumps(event.blackouts), status="active", version=event.originator_version,
            created_at=iso(event.timestamp), updated_at=iso(event.timestamp))

    @apply.register
    def _(self, event: Member.Erased, tx: Tx, context: str) -> None:
        """A forgotten member's booking purposes and cancellation reasons: the events now decode as
        已删除; the rows say so too (a reason the venue's owner gave is cleared with them)."""
        member = str(event.originator_id)
        tx.execute("UPDATE bookings SET purpose = %s WHERE requester_role = 'member' AND requester_id = %s "
                   "AND purpose <> ''", (ERASED, member))
        tx.execute("UPDATE bookings SET reason = %s WHERE requester_role = 'member' AND requester_id = %s "
                   "AND status = 'cancelled' AND reason IS NOT NULL", (ERASED, member))

    @apply.register
    def _(self, event: Booking.Requested, tx: Tx, context: str) -> None:
        self.bookings.insert(
            str(event.originator_id), venue_id=event.venue_id, owner_id=event.owner_id,
            requester_id=event.requester_id, requester_role=event.requester_role, starts_at=iso(event.starts_at),
            ends_at=iso(event.ends_at), day=event.starts_at.astimezone(CITY_TZ).date().isoformat(),
            attendees=event.attendees, purpose=event.purpose, status=event.status, version=event.originator_version,
            created_at=iso(event.timestamp), updated_at=iso(event.timestamp))


class VenueQueries:
    """What the venues application reads from the venue list and the bookings."""

    def __init__(self, db: Database):
        self.db = db

    def search(self, status: str, grid: str | None, capacity: int | None, free_on: date | None, number: int,
               size: int) -> Found:
        where = Where().add("status = %s", status).equal((("grid_id", grid),))
        if capacity is not None:
            where.add("capacity >= %s", capacity)
        if free_on is None:
            return page(self.db, "venues", where, "created_at DESC, id", number, size)
        rows = self.db.rows(f"SELECT * FROM venues {where.clause} ORDER BY created_at DESC, id", where.params)
        return Found.of(self._free_on(rows, free_on), number, size)

    def _free_on(self, rows: list[dict], day: date) -> list[dict]:
        """Venues with some free time on a local day: open hours minus blackouts minus held slots."""
        held: dict[str, list] = {}
        holding = ", ".join(f"'{s}'" for s in HOLDS_SLOT)
        for b in self.db.rows("SELECT venue_id, starts_at, ends_at FROM bookings "
                              f"WHERE day = %s AND status IN ({holding})", (day.isoformat(),)):
            held.setdefault(b["venue_id"], []).append((datetime.fromisoformat(b["starts_at"]),
                                                       datetime.fromisoformat(b["ends_at"])))
        found = []
        for row in rows:
            opens = datetime.combine(day, time.fromisoformat(row["opens_at"]), CITY_TZ)
            closes = datetime.combine(day, time.fromisoformat(row["closes_at"]), CITY_TZ)
            taken = held.get(row["id"], []) + [(datetime.fromisoformat(b["starts_at"]),
                                                datetime.fromisoformat(b["ends_at"])) for b in json.loads(row["blackouts"])]
            if free_intervals(opens, closes, taken):
                found.append(row)
        return found

    def bookings_of_venue(self, venue_id: str, requester: tuple[str, str] | None, day: date | None, number: int,
                          size: int) -> Found:
        """A venue's bookings; only those of `requester` (id, role) when given."""
        where = Where().add("venue_id = %s", venue_id)
        if requester is not None:
            where.add("(requester_id = %s AND requester_role = %s)", *requester)
        if day is not None:
            where.add("day = %s", day.isoformat())
        return page(self.db, "bookings", where, "starts_at, id", number, size)

    def bookings_of_requester(self, requester_id: str, reader: tuple[str, str, str] | None, number: int,
                              size: int) -> Found:
        """A requester's bookings; with `reader` (id, role, organisation or ''), only the reader's own
        and those at the reader's venues."""
        where = Where().add("requester_id = %s", requester_id)
        if reader is not None:
            where.add("((requester_id = %s AND requester_role = %s) OR owner_id = %s)", *reader)
        return page(self.db, "bookings", where, "starts_at, id", number, size)
