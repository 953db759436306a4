"""Bookings and their venue's day change together: a confirmation reserves the slot in the
same save, a cancellation or no-show releases it. Every function leaves pending events on
the booking and the day; the engine saves them in one transaction."""
from datetime import datetime, timedelta
from uuid import UUID

from domain.actors import Actor, Role
from domain.booking import HOLDS_SLOT, Booking
from domain.errors import ForbiddenError, GuardFailedError, ValidationError
from domain.schedule import VenueDay
from domain.venue import Venue


def request_booking(booking_id: UUID, venue: Venue, day: VenueDay, by: Actor, starts_at: datetime,
                    ends_at: datetime, attendees: int, purpose: str, now: datetime) -> Booking:
    if by.role not in (Role.MEMBER, Role.ORG):
        raise ForbiddenError("venues are booked by members and organisations")
    if venue.status != "active":
        raise GuardFailedError(venue.status, "book", "the venue is not taking bookings", [])
    if not isinstance(purpose, str) or len(purpose) > 500:
        raise ValidationError("purpose must be at most 500 characters")
    venue.check_booking(starts_at, ends_at, attendees, now)
    status = "requested" if venue.requires_approval else "confirmed"
    booking = Booking(id=booking_id, venue_id=str(venue.id), owner_id=venue.organisation_id, requester_id=by.id,
                      requester_role=by.role.value, starts_at=starts_at, ends_at=ends_at, attendees=attendees,
                      purpose=purpose, status=status)
    if status == "confirmed":
        day.reserve(str(booking.id), starts_at, ends_at)
    return booking


def act(venue: Venue, day: VenueDay, booking: Booking, trigger: str, by: Actor, now: datetime, grace: timedelta,
        **fields) -> None:
    held = booking.status in HOLDS_SLOT
    if trigger == "approve":
        booking.lifecycle.decide(booking.status, "approve", booking.relations(by))
        day.reserve(str(booking.id), booking.starts_at, booking.ends_at)
        booking.approve(by)
    else:
        booking.act(trigger, {**fields, "by": by, "now": now, "grace": grace, "lock_hours": venue.cancel_lock_hours})
    if held and booking.status not in HOLDS_SLOT:
        day.release(str(booking.id))  # cancelled, no-show or completed: the rest of the slot is free
