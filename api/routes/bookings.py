"""Venue bookings (场地预约): read one, list a requester's, act on one."""
from uuid import UUID

from fastapi import APIRouter, Request

from api.auth import CurrentActor
from api.representations import booking, booking_row
from api.routes.bodies import ActionBody
from api.routes.common import Filter, MinPosition, Page, PageSize, System, if_match, meta, reply, wait_for_positions
from domain.booking import Booking

router = APIRouter(prefix="/bookings", tags=["venues"])


@router.get("")
def bookings_of_requester(actor: CurrentActor, system: System, requester: Filter = None,
                          page: Page = 1, page_size: PageSize = 50,
                          min_position: MinPosition = None) -> dict:
    """A requester's bookings (the caller's own unless `requester` names another)."""
    wait_for_positions(system, min_position)
    requester = requester or actor.id
    total = system.db.rows("SELECT COUNT(*) AS n FROM bookings WHERE requester_id = %s", (requester,))[0]["n"]
    rows = system.db.rows("SELECT * FROM bookings WHERE requester_id = %s ORDER BY starts_at, id LIMIT %s OFFSET %s",
                          (requester, page_size, (page - 1) * page_size))
    return {"items": [booking_row(r, actor) for r in rows], "total": total, "page": page, "page_size": page_size}


@router.get("/{booking_id}")
def get_booking(booking_id: UUID, actor: CurrentActor, system: System):
    b = system.venues.get(booking_id, Booking)
    return reply(system, booking(b, actor), b.version)


@router.post("/{booking_id}/actions/{trigger}")
def act_on_booking(booking_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                   body: ActionBody | None = None):
    fields = body.fields() if body else {}
    outcome = system.venues.act_on_booking(meta(request, actor, fields.get("reason")), booking_id, trigger,
                                           if_match(request), **fields)
    return reply(system, booking(outcome.value, actor), outcome.value.version, 200, outcome, "venues")
