"""A member's service record (志愿服务记录): verified claims and their hours."""
from fastapi import APIRouter

from api.auth import CurrentActor
from api.routes.common import CaughtUp, System
from api.routes.readers import member_reader
from domain.errors import NotFoundError

router = APIRouter(tags=["members"])


@router.get("/members/{member_id}/service-record")
def service_record(member_id: str, actor: CurrentActor, system: System, _: CaughtUp = None) -> dict:
    """Read by the member, the member's organisation, admin and auditors."""
    member = system.registry.find(member_id, "member")
    if member is None:
        raise NotFoundError(f"no member {member_id}")
    member_reader(member, actor)
    rows = system.db.rows(
        "SELECT claim_id, demand_id, hours, rating, verified_at FROM service_records "
        "WHERE member_id = %s AND verified_at IS NOT NULL ORDER BY verified_at, claim_id", (member_id,))
    return {"member_id": member_id, "total_hours": sum(r["hours"] for r in rows), "items": rows}
