"""Venue bookings (场地预约): read one, list a requester's, act on one."""
from uuid import UUID

from fastapi import APIRouter, Request

from api.auth import CurrentActor
from api.representations import booking, booking_row
from api.routes.bodies import ActionBody
from api.routes.common import CaughtUp, Filter, Page, PageSize, System, if_match, meta, reply

router = APIRouter(prefix="/bookings", tags=["venues"])


@router.get("")
def bookings_of_requester(actor: CurrentActor, system: System, requester: Filter = None,
                          page: Page = 1, page_size: PageSize = 50, _: CaughtUp = None) -> dict:
    """A requester's bookings (the caller's own unless `requester` names another): of another's, the
    caller sees those at its own venues (admin and auditors see all)."""
    found = system.venues.bookings_of_requester(actor, requester, page, page_size)
    return found.body(lambda row: booking_row(row, actor))


@router.get("/{booking_id}")
def get_booking(booking_id: UUID, actor: CurrentActor, system: System):
    b = system.venues.booking(booking_id, actor)
    return reply(booking(b, actor), b.version)


@router.post("/{booking_id}/actions/{trigger}")
def act_on_booking(booking_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                   body: ActionBody | None = None):
    fields = body.fields() if body else {}
    outcome = system.venues.act_on_booking(meta(request, actor, fields.get("reason")), booking_id, trigger,
                                           if_match(request), **fields)
    return reply(booking(outcome.value, actor), outcome.value.version, 200, outcome, "venues")
