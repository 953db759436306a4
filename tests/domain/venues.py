"""Specs of the venue and booking tables: a hall of org-v needing approval, a booking of member m1
three days ahead, 10:00 to 12:00 in the city."""
from datetime import timedelta
from uuid import UUID

from domain import booking, reserving, venue
from domain.actors import SYSTEM, Actor, Role
from domain.booking import Booking
from domain.city import CITY_TZ
from domain.errors import GuardFailedError, SlotTakenError, ValidationError
from domain.schedule import VenueDay, day_id
from domain.venue import Venue
from tests.domain.spec import GRACE, NOBODY, NOW, Book, e, given_event

V, B, OTHER = UUID(int=11), UUID(int=12), "00000000-0000-0000-0000-000000000099"
STARTS = NOW + timedelta(days=3)
ENDS = STARTS + timedelta(hours=2)
DAY = STARTS.astimezone(CITY_TZ).date()
IDS = {Venue: V, Booking: B, VenueDay: day_id(V, DAY)}
ACTORS = {"owner": Actor("org-v", Role.ORG), "admin": Actor("admin", Role.ADMIN), "system": SYSTEM,
          "requester": Actor("m1", Role.MEMBER), NOBODY: Actor("m2", Role.MEMBER)}

SHARED = [given_event(Venue.Shared, organisation_id="org-v", name="社区礼堂", address="", grid_id="g1", capacity=50,
                      opens_at="08:00", closes_at="22:00", requires_approval=True, min_notice_hours=0,
                      max_advance_days=365, cancel_lock_hours=24, blackouts=[])]

VENUE_STATES = {
    "active": SHARED,
    "suspended": SHARED + [given_event(Venue.Suspended, status="suspended", reason="修缮")],
    "retired": SHARED + [given_event(Venue.Retired, status="retired", reason=None)],
}


def act_on_venue(world, subject, trigger, by, now, fields):
    subject.act(trigger, {**fields, "by": by})


venues = Book(venue.LIFECYCLE, Venue, IDS, ACTORS, VENUE_STATES, act_on_venue)
v = venues

for role in ("owner", "admin"):
    v.allowed("suspend", "active", role, e("Venue.Suspended", status="suspended", reason="修缮"), reason="修缮")
    v.allowed("resume", "suspended", role, e("Venue.Resumed", status="active"))
    for state in ("active", "suspended"):
        v.allowed("retire", state, role, e("Venue.Retired", status="retired", reason=None))
v.refused_for("suspend", "system nobody", "active")
v.refused_in("suspend", "suspended retired", "owner")
v.refused_for("resume", "system nobody", "suspended")
v.refused_in("resume", "active retired", "owner")
v.refused_for("retire", "system nobody", "active")
v.refused_in("retire", "retired", "owner")


# -- bookings: the venue's day holds the slot a confirmed booking takes ------------------------
def requested(status: str = "requested"):
    return given_event(Booking.Requested, venue_id=str(V), owner_id="org-v", requester_id="m1",
                       requester_role="member", starts_at=STARTS, ends_at=ENDS, attendees=10, purpose="",
                       status=status)


SLOT = dict(booking_id=str(B), starts_at=STARTS.isoformat(), ends_at=ENDS.isoformat())
REQUESTED = SHARED + [requested()]
CONFIRMED = REQUESTED + [given_event(VenueDay.Opened, venue_id=str(V), day=DAY.isoformat()),
                         given_event(VenueDay.Reserved, **SLOT), given_event(Booking.Approved, status="confirmed")]
CHECKED_IN = CONFIRMED + [given_event(Booking.CheckedIn, status="checked_in")]
RELEASED = given_event(VenueDay.Released, booking_id=str(B))

BOOKING_STATES = {
    "requested": REQUESTED,
    "confirmed": CONFIRMED,
    "rejected": REQUESTED + [given_event(Booking.Rejected, status="rejected", reason="已满")],
    "cancelled": REQUESTED + [given_event(Booking.Cancelled, status="cancelled", was="requested", reason=None)],
    "checked_in": CHECKED_IN,
    "completed": CHECKED_IN + [given_event(Booking.Completed, status="completed"), RELEASED],
    "no_show": CONFIRMED + [given_event(Booking.MarkedNoShow, status="no_show"), RELEASED],
    "expired": REQUESTED + [given_event(Booking.Expired, status="expired")],
}


def act_on_booking(world, subject, trigger, by, now, fields):
    day = world.get(IDS[VenueDay]) or VenueDay.open(V, DAY)
    reserving.act(world[V], day, subject, trigger, by, now, GRACE, **fields)
    if subject.status == "confirmed":
        world[IDS[VenueDay]] = day  # as the application keeps a new day only when a slot was reserved


RELEASE = e("VenueDay.Released", booking_id=str(B))
AFTER_GRACE = STARTS + GRACE + timedelta(seconds=1)
bookings = Book(booking.LIFECYCLE, Booking, IDS, ACTORS, BOOKING_STATES, act_on_booking)
b = bookings

b.allowed("approve", "requested", "owner", e("Booking.Approved", status="confirmed"),
          e("VenueDay.Opened", venue_id=str(V), day=DAY.isoformat()), e("VenueDay.Reserved", **SLOT))
b.refused("approve", "requested", "owner", SlotTakenError, label="slot-taken", given=REQUESTED + [
    given_event(VenueDay.Opened, venue_id=str(V), day=DAY.isoformat()),
    given_event(VenueDay.Reserved, booking_id=OTHER, starts_at=(STARTS + timedelta(hours=1)).isoformat(),
                ends_at=(ENDS + timedelta(hours=1)).isoformat())])
b.refused_for("approve", "requester system admin nobody", "requested")
b.refused_in("approve", "confirmed rejected cancelled checked_in completed no_show expired", "owner")

b.allowed("reject", "requested", "owner", e("Booking.Rejected", status="rejected", reason="已满"), reason="已满")
b.refused("reject", "requested", "owner", ValidationError, label="no-reason")
b.refused_for("reject", "requester system admin nobody", "requested", reason="已满")
b.refused_in("reject", "confirmed rejected cancelled checked_in completed no_show expired", "owner", reason="已满")

for state in ("requested", "confirmed"):
    released = (RELEASE,) if state == "confirmed" else ()
    b.allowed("cancel", state, "requester", e("Booking.Cancelled", status="cancelled", was=state, reason=None),
              *released)
    b.allowed("cancel", state, "owner", e("Booking.Cancelled", status="cancelled", was=state, reason="维修"),
              *released, reason="维修")
b.refused("cancel", "confirmed", "requester", GuardFailedError, now=STARTS - timedelta(hours=23),
          label="within-lock")
b.refused("cancel", "confirmed", "owner", ValidationError, label="owner-without-reason")
b.refused_for("cancel", "system admin nobody", "confirmed")
b.refused_in("cancel", "rejected cancelled checked_in completed no_show expired", "requester")

for role in ("requester", "owner"):
    b.allowed("check_in", "confirmed", role, e("Booking.CheckedIn", status="checked_in"), now=STARTS)
b.refused("check_in", "confirmed", "requester", GuardFailedError, now=STARTS - timedelta(minutes=16),
          label="too-early")
b.refused("check_in", "confirmed", "requester", GuardFailedError, now=AFTER_GRACE, label="too-late")
b.refused_for("check_in", "system admin nobody", "confirmed", now=STARTS)
b.refused_in("check_in", "requested rejected cancelled checked_in completed no_show expired", "requester",
             now=STARTS)

for role in ("requester", "owner", "system"):
    b.allowed("complete", "checked_in", role, e("Booking.Completed", status="completed"), RELEASE, now=ENDS)
b.refused("complete", "checked_in", "system", GuardFailedError, now=ENDS - timedelta(minutes=1),
          label="before-end")
b.refused_for("complete", "admin nobody", "checked_in", now=ENDS)
b.refused_in("complete", "requested confirmed rejected cancelled completed no_show expired", "requester", now=ENDS)

b.allowed("no_show", "confirmed", "system", e("Booking.MarkedNoShow", status="no_show"), RELEASE, now=AFTER_GRACE)
b.refused("no_show", "confirmed", "system", GuardFailedError, now=STARTS + GRACE, label="within-grace")
b.refused_for("no_show", "requester owner admin nobody", "confirmed", now=AFTER_GRACE)
b.refused_in("no_show", "requested rejected cancelled checked_in completed no_show expired", "system",
             now=AFTER_GRACE)

b.allowed("expire", "requested", "system", e("Booking.Expired", status="expired"), now=STARTS)
b.refused("expire", "requested", "system", GuardFailedError, label="before-start")
b.refused_for("expire", "requester owner admin nobody", "requested", now=STARTS)
b.refused_in("expire", "confirmed rejected cancelled checked_in completed no_show expired", "system", now=STARTS)
