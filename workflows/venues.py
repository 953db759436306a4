"""The venues context: venues, their bookings, and each venue-day's schedule of confirmed slots."""
from datetime import date, datetime, timedelta
from uuid import UUID

from domain import reserving
from domain.actors import Role
from domain.booking import LIFECYCLE as BOOKING_LIFECYCLE
from domain.booking import Booking
from domain.errors import DomainError, ForbiddenError
from domain.schedule import VenueDay, day_id, free_intervals
from domain.city import CITY_TZ
from domain.venue import Venue
from domain.venue import LIFECYCLE as VENUE_LIFECYCLE
from workflows.context import Context
from workflows.clock import Clock, SystemClock
from workflows.commands import check_trigger
from workflows.engine import A, Engine, Meta, Outcome, Unit, check_version, load

FIRES = {"booking.no_show": "no_show", "booking.expire": "expire", "booking.complete": "complete"}


def _day_of(unit: Unit, venue_id: UUID | str, day: date) -> VenueDay:
    """The venue's day, opened on first use; the caller adds a new day to the unit only when it
    reserved a slot on it, so requests that hold no slot leave no empty days behind."""
    return unit.find(day_id(venue_id, day), VenueDay) or VenueDay.open(venue_id, day)


def _day_key(venue_id: UUID | str, starts_at: datetime) -> UUID:
    """The venue-day a booking reserves its slot on: the aggregate its commands contend on."""
    return day_id(venue_id, starts_at.astimezone(CITY_TZ).date())


class Venues(Context):
    name = "venues"

    def __init__(self, env=None, *, clock: Clock | None = None, grace: timedelta = timedelta(minutes=15)):
        super().__init__(env)
        self.clock, self.grace = clock or SystemClock(), grace
        self.engine = Engine(self)

    def share_venue(self, meta: Meta, venue_id: UUID, organisation_id: str, **fields) -> Outcome[Venue]:
        if meta.actor.role not in (Role.ORG, Role.ADMIN):
            raise ForbiddenError("venues are shared by organisations")

        def command(unit: Unit) -> Venue:
            return unit.find(venue_id, Venue) or unit.add(Venue.share(venue_id, organisation_id, **fields))

        return self.engine.execute(meta, command)

    def act_on_venue(self, meta: Meta, venue_id: UUID, trigger: str, if_match: int | None = None,
                     **fields) -> Outcome[Venue]:
        check_trigger(VENUE_LIFECYCLE, trigger)

        def command(unit: Unit) -> Venue:
            venue = unit.get(venue_id, Venue)
            check_version(venue, if_match)
            venue.act(trigger, {**fields, "by": meta.actor})
            return venue

        return self.engine.execute(meta, command)

    def book(self, meta: Meta, booking_id: UUID, venue_id: UUID, starts_at: datetime, ends_at: datetime,
             attendees: int, purpose: str = "") -> Outcome[Booking]:
        def command(unit: Unit) -> Booking:
            existing = unit.find(booking_id, Booking)
            if existing is not None:
                return existing
            venue = unit.get(venue_id, Venue)
            day = _day_of(unit, venue_id, starts_at.astimezone(CITY_TZ).date())
            booking = reserving.request_booking(booking_id, venue, day, meta.actor, starts_at, ends_at, attendees,
                                                purpose, self.clock.now())
            if booking.status == "confirmed":
                unit.add(day)
            return unit.add(booking)

        return self.engine.execute(meta, command, key=_day_key(venue_id, starts_at))

    def act_on_booking(self, meta: Meta, booking_id: UUID, trigger: str, if_match: int | None = None,
                       **fields) -> Outcome[Booking]:
        check_trigger(BOOKING_LIFECYCLE, trigger)
        booked = self.engine.peek(booking_id, Booking)  # a booking never changes venue or time

        def command(unit: Unit) -> Booking:
            booking = unit.get(booking_id, Booking)
            check_version(booking, if_match)
            venue = unit.get(booking.venue_id, Venue)
            day = _day_of(unit, venue.id, booking.starts_at.astimezone(CITY_TZ).date())
            reserving.act(venue, day, booking, trigger, meta.actor, self.clock.now(), self.grace, **fields)
            if booking.status == "confirmed":
                unit.add(day)  # approved: the slot was reserved on a day that may be new
            return booking

        return self.engine.execute(meta, command, key=_day_key(booked.venue_id, booked.starts_at))

    def availability(self, venue_id: UUID, day: date) -> list[tuple[datetime, datetime]]:
        """Free intervals of a local day: open hours minus blackouts minus confirmed slots."""
        venue = load(self, venue_id, Venue)
        opens, closes = venue.window(day)
        if venue.status != "active":
            return []
        taken = venue.blackout_intervals()
        try:
            taken += load(self, day_id(venue_id, day), VenueDay).intervals()
        except DomainError:
            pass  # nothing reserved that day yet
        return [(s.astimezone(CITY_TZ), e.astimezone(CITY_TZ)) for s, e in free_intervals(opens, closes, taken)]

    def fire(self, meta: Meta, kind: str, aggregate_id: UUID) -> Outcome | None:
        """A booking deadline came due (no-show, expiry, completion). Firing twice does nothing."""
        if kind not in FIRES:
            raise ValueError(f"unknown deadline kind {kind}")
        try:
            return self.act_on_booking(meta, aggregate_id, FIRES[kind])
        except DomainError:
            return None

    def get(self, aggregate_id: UUID | str, kind: type[A]) -> A:
        return load(self, aggregate_id, kind)
