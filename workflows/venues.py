"""The venues context: venues, their bookings, and each venue-day's schedule of confirmed slots;
and what may be read of them, by whom (domain/readers.py), from the aggregates and the list."""
from datetime import date, datetime, timedelta
from uuid import UUID

from domain import reserving
from domain.actors import Actor, Role
from domain.booking import LIFECYCLE as BOOKING_LIFECYCLE
from domain.booking import Booking
from domain.errors import DomainError, ForbiddenError
from domain.readers import party, reads_all, staff
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

    def __init__(self, env=None, *, clock: Clock | None = None, grace: timedelta = timedelta(minutes=15),
                 registry=None):
        super().__init__(env)
        self.clock, self.grace, self.registry = clock or SystemClock(), grace, registry
        self.engine = Engine(self)
        self.queries = None  # the list's queries: api/wiring.py installs them (workflows never import projections)

    def share_venue(self, meta: Meta, venue_id: UUID, organisation_id: str | None, **fields) -> Outcome[Venue]:
        """An organisation shares its own venue; the operator names the organisation."""
        if meta.actor.role not in (Role.ORG, Role.ADMIN):
            raise ForbiddenError("venues are shared by organisations")
        if self.registry is not None:
            organisation_id = self.registry.organisation_for(meta.actor, organisation_id, fields.get("grid_id"))

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

    # -- queries --------------------------------------------------------------------------------
    def booking(self, booking_id: UUID, actor: Actor) -> Booking:
        return party(load(self, booking_id, Booking), actor, "booking")

    def directory(self, status: str = "active", grid: str | None = None, capacity: int | None = None,
                  free_on: date | None = None, page: int = 1, page_size: int = 20):
        return self.queries.search(status, grid, capacity, free_on, page, page_size)

    def bookings_of_venue(self, venue_id: UUID, actor: Actor, day: date | None = None, page: int = 1,
                          page_size: int = 50):
        """All of them for the venue's organisation, admin and auditors; the caller's own for anyone else."""
        venue = load(self, venue_id, Venue)
        requester = None if reads_all(venue, actor) else (actor.id, actor.role.value)
        return self.queries.bookings_of_venue(str(venue_id), requester, day, page, page_size)

    def bookings_of_requester(self, actor: Actor, requester: str | None = None, page: int = 1, page_size: int = 50):
        """A requester's bookings (the caller's own unless `requester` names another): of another's, the
        caller sees those at its own venues (admin and auditors see all)."""
        reader = None if staff(actor) else (actor.id, actor.role.value, actor.id if actor.role is Role.ORG else "")
        return self.queries.bookings_of_requester(requester or actor.id, reader, page, page_size)

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
