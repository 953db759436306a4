"""Venues (场地共享): share, list, read, availability, book, and act on them."""
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.auth import CurrentActor, MaybeActor
from api.representations import booking, booking_row, venue, venue_row
from api.routes.bodies import ActionBody, Day, Instant
from api.routes.common import CaughtUp, Filter, Page, PageSize, System, if_match, meta, new_id, reply
from domain.venue import Venue

router = APIRouter(prefix="/venues", tags=["venues"])
HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Hours = Annotated[StrictInt, Field(ge=0, le=8760)]


class Blackout(BaseModel):
    starts_at: Instant
    ends_at: Instant
    reason: Annotated[str, Field(max_length=200)] = ""


class NewVenue(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Annotated[str, Field(min_length=1, max_length=200)]
    address: Annotated[str, Field(max_length=500)] = ""
    grid_id: Annotated[str, Field(min_length=1, max_length=64)]
    capacity: Annotated[StrictInt, Field(ge=1, le=100_000)]
    opens_at: HHMM
    closes_at: HHMM
    requires_approval: StrictBool = False
    min_notice_hours: Hours = 0
    max_advance_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 30
    cancel_lock_hours: Hours = 0
    blackouts: Annotated[list[Blackout], Field(max_length=100)] = []
    organisation_id: Annotated[str, Field(max_length=64)] | None = None


class NewBooking(BaseModel):
    model_config = ConfigDict(extra="allow")
    starts_at: Instant
    ends_at: Instant
    attendees: Annotated[StrictInt, Field(ge=1, le=100_000)]
    purpose: Annotated[str, Field(max_length=500)] = ""


@router.post("", status_code=201)
def share_venue(body: NewVenue, request: Request, actor: CurrentActor, system: System):
    fields = {**body.model_dump(exclude={"organisation_id"}, include=set(NewVenue.model_fields)),
              "blackouts": [b.model_dump() for b in body.blackouts]}
    outcome = system.venues.share_venue(meta(request, actor), new_id(request, actor), body.organisation_id, **fields)
    return reply(venue(outcome.value, actor), outcome.value.version, 201, outcome, "venues")


@router.get("")
def list_venues(actor: MaybeActor, system: System, grid: Filter = None,
                capacity: Annotated[int | None, Query(ge=1, le=100_000, description="at least this many seats")] = None,
                free_on: Annotated[Day | None, Query(description="has free time on this local date")] = None,
                status: Annotated[str, Query(max_length=200)] = "active", page: Page = 1,
                page_size: PageSize = 20, _: CaughtUp = None) -> dict:
    found = system.venues.directory(status, grid, capacity, free_on, page, page_size)
    return found.body(lambda row: venue_row(row, actor))


@router.get("/{venue_id}")
def get_venue(venue_id: UUID, actor: MaybeActor, system: System):
    v = system.venues.get(venue_id, Venue)
    return reply(venue(v, actor), v.version)


@router.get("/{venue_id}/availability")
def availability(venue_id: UUID, day: Annotated[Day, Query(alias="date")], system: System) -> dict:
    """Free intervals of a local day, read from the venue and its day's schedule (always current)."""
    free = system.venues.availability(venue_id, day)
    return {"venue_id": str(venue_id), "date": day.isoformat(),
            "free": [{"starts_at": s.isoformat(), "ends_at": e.isoformat()} for s, e in free]}


@router.post("/{venue_id}/actions/{trigger}")
def act_on_venue(venue_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                 body: ActionBody | None = None):
    fields = body.fields() if body else {}
    outcome = system.venues.act_on_venue(meta(request, actor, fields.get("reason")), venue_id, trigger,
                                         if_match(request), **fields)
    return reply(venue(outcome.value, actor), outcome.value.version, 200, outcome, "venues")


@router.post("/{venue_id}/bookings", status_code=201)
def book(venue_id: UUID, body: NewBooking, request: Request, actor: CurrentActor, system: System):
    outcome = system.venues.book(meta(request, actor), new_id(request, actor), venue_id, body.starts_at,
                                 body.ends_at, body.attendees, body.purpose)
    return reply(booking(outcome.value, actor), outcome.value.version, 201, outcome, "venues")


@router.get("/{venue_id}/bookings")
def bookings_of_venue(venue_id: UUID, actor: CurrentActor, system: System,
                      day: Annotated[Day | None, Query(alias="date")] = None, page: Page = 1,
                      page_size: PageSize = 50, _: CaughtUp = None) -> dict:
    """All of them for the venue's organisation, admin and auditors; the caller's own for anyone else."""
    found = system.venues.bookings_of_venue(venue_id, actor, day, page, page_size)
    return found.body(lambda row: booking_row(row, actor))
