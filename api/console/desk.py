"""部门工作台: a department's queue with SLA lights, soonest due first, a request's page with the
actions its handler (or applicant) may take, and a service item's page (its review, for the operator)."""
from uuid import UUID

from fastapi import APIRouter, Request

from api.console.pages import page_api, render

router = APIRouter(prefix="/console", include_in_schema=False)
OPEN = ("submitted", "returned", "accepted", "in_progress", "awaiting_applicant")
LAST = "9999"  # sorts requests without a due time (not yet accepted) after those with one


@router.get("/desk")
async def desk(request: Request):
    current, api = await page_api(request)
    department = current.actor.id if current.role == "dept" else request.query_params.get("department", "")[:64]
    status = request.query_params.get("status", "open")[:32]
    rows, problem = [], None
    if current.actor and department:
        got = await api.get(f"/departments/{department}/queue", page_size=100,
                            status=None if status in ("open", "all") else status)
        rows, problem = got.body.get("items", []), got.problem
        if status == "open":
            rows = [r for r in rows if r["status"] in OPEN]
        rows.sort(key=lambda r: (r.get("due_at") or LAST, r["id"]))
    return render(request, current, "desk.html", rows=rows, department=department, status=status, problem=problem)


@router.get("/requests/{request_id}")
async def service_request(request_id: UUID, request: Request):
    current, api = await page_api(request)
    found = await api.get(f"/service-requests/{request_id}")
    if not found.ok:
        return render(request, current, "missing.html", 404, problem=found.body)
    item = await api.get(f"/service-items/{found.body['item_id']}")
    return render(request, current, "request.html", record=found.body, item=item.body if item.ok else None)


@router.get("/items/{item_id}")
async def service_item(item_id: UUID, request: Request):
    current, api = await page_api(request)
    found = await api.get(f"/service-items/{item_id}")
    if not found.ok:
        return render(request, current, "missing.html", 404, problem=found.body)
    return render(request, current, "item.html", item=found.body)
