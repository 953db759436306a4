"""志愿服务记录: a member's verified claims and hours (the member's own, or a member of the
organisation, for the operator and auditors any member: the API decides)."""
from fastapi import APIRouter, Request

from api.console.pages import page_api, render

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/record")
async def record(request: Request):
    current, api = await page_api(request)
    member = current.actor.id if current.role == "member" else request.query_params.get("member", "")[:64]
    found = await api.get(f"/members/{member}/service-record") if current.actor and member else None
    return render(request, current, "record.html", member=member, record=found.body if found and found.ok else None,
                  problem=found.problem if found else None)
