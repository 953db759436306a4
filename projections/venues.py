"""The venue list and the bookings of each venue and each requester."""
import json
from functools import singledispatchmethod

from domain.booking import Booking
from domain.city import CITY_TZ
from domain.personal import ERASED
from domain.registry import Member
from domain.venue import Venue
from projections.db import Tx
from projections.projector import View, iso, touch


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

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, Venue.Event):
            touch(tx, "venues", event)
        elif isinstance(event, Booking.Event):
            touch(tx, "bookings", event, ("status", "reason"))

    @apply.register
    def _(self, event: Venue.Shared, tx: Tx, context: str) -> None:
        tx.execute(
            "INSERT INTO venues (id, organisation_id, name, address, grid_id, capacity, opens_at, closes_at, "
            "requires_approval, min_notice_hours, max_advance_days, cancel_lock_hours, blackouts, status, version, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'active', %s, %s, %s)",
            (str(event.originator_id), event.organisation_id, event.name, event.address, event.grid_id, event.capacity,
             event.opens_at, event.closes_at, event.requires_approval, event.min_notice_hours, event.max_advance_days,
             event.cancel_lock_hours, json.dumps(event.blackouts), event.originator_version, iso(event.timestamp),
             iso(event.timestamp)),
        )

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
        tx.execute(
            "INSERT INTO bookings (id, venue_id, owner_id, requester_id, requester_role, starts_at, ends_at, day, "
            "attendees, purpose, status, version, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (str(event.originator_id), event.venue_id, event.owner_id, event.requester_id, event.requester_role,
             iso(event.starts_at), iso(event.ends_at), event.starts_at.astimezone(CITY_TZ).date().isoformat(),
             event.attendees, event.purpose, event.status, event.originator_version, iso(event.timestamp),
             iso(event.timestamp)),
        )

