"""Venue bookings (场地预约): read one, list a requester's, act on one."""
from uuid import UUID

from fastapi import APIRouter, Request

from api.auth import CurrentActor
from api.representations import booking, booking_row
from api.routes.bodies import ActionBody
from api.routes.common import CaughtUp, Filter, Page, PageSize, System, if_match, meta, reply
from api.routes.readers import own_rows, party, staff
from domain.actors import Role
from domain.booking import Booking

router = APIRouter(prefix="/bookings", tags=["venues"])


@router.get("")
def bookings_of_requester(actor: CurrentActor, system: System, requester: Filter = None,
                          page: Page = 1, page_size: PageSize = 50, _: CaughtUp = None) -> dict:
    """A requester's bookings (the caller's own unless `requester` names another): of another's, the
    caller sees those at its own venues (admin and auditors see all)."""
    where, params = "requester_id = %s", [requester or actor.id]
    if not staff(actor):
        mine, more = own_rows(actor, "requester_id", "requester_role")
        where, params = f"{where} AND ({mine} OR owner_id = %s)", params + more + [
            actor.id if actor.role is Role.ORG else ""]
    total = system.db.rows(f"SELECT COUNT(*) AS n FROM bookings WHERE {where}", params)[0]["n"]
    rows = system.db.rows(f"SELECT * FROM bookings WHERE {where} ORDER BY starts_at, id LIMIT %s OFFSET %s",
                          (*params, page_size, (page - 1) * page_size))
    return {"items": [booking_row(r, actor) for r in rows], "total": total, "page": page, "page_size": page_size}


@router.get("/{booking_id}")
def get_booking(booking_id: UUID, actor: CurrentActor, system: System):
    b = party(system.venues.get(booking_id, Booking), actor, "booking")
    return reply(system, booking(b, actor), b.version)


@router.post("/{booking_id}/actions/{trigger}")
def act_on_booking(booking_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                   body: ActionBody | None = None):
    fields = body.fields() if body else {}
    outcome = system.venues.act_on_booking(meta(request, actor, fields.get("reason")), booking_id, trigger,
                                           if_match(request), **fields)
    return reply(system, booking(outcome.value, actor), outcome.value.version, 200, outcome, "venues")
