"""A member's service record (志愿服务记录): verified claims and their hours."""
from fastapi import APIRouter

from api.auth import CurrentActor
from api.routes.common import CaughtUp, System

router = APIRouter(tags=["members"])


@router.get("/members/{member_id}/service-record")
def service_record(member_id: str, actor: CurrentActor, system: System, _: CaughtUp = None) -> dict:
    """Read by the member, the member's organisation, admin and auditors."""
    return system.registry.service_record(member_id, actor)
