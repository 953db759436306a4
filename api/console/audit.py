"""审计: the event index with filters, an aggregate's timeline, its state at a version or an
instant, and the verify result. Auditors and the operator only (the API says so)."""
from uuid import UUID

from fastapi import APIRouter, Request

from api.console.forms import instant
from api.console.pages import page_api, render

router = APIRouter(prefix="/console/audit", include_in_schema=False)
FILTERS = ("aggregate_id", "actor", "type", "since", "until", "after")


@router.get("")
async def index(request: Request):
    current, api = await page_api(request)
    chosen = {k: request.query_params.get(k, "")[:200] for k in FILTERS}
    query = {**chosen, "since": instant(chosen["since"]), "until": instant(chosen["until"])}
    found = await api.get("/audit/events", **query, limit=50) if current.actor else None
    verified = None
    if current.actor and request.query_params.get("verify"):
        verified = await api.get("/audit/verify")
    return render(request, current, "audit.html", chosen=chosen, events=found.body.get("items", []) if found else [],
                  next_after=found.body.get("next_after") if found else None,
                  problem=found.problem if found else None, verified=verified)


@router.get("/{aggregate_id}")
async def timeline(aggregate_id: UUID, request: Request):
    current, api = await page_api(request)
    found = await api.get(f"/audit/aggregates/{aggregate_id}/history")
    if not found.ok:
        return render(request, current, "missing.html", found.status, problem=found.body)
    version, at = request.query_params.get("version", "")[:19], request.query_params.get("at", "")[:40]
    state = None
    if version or at:
        state = await api.get(f"/audit/aggregates/{aggregate_id}/state",
                              **({"version": version} if version else {"at": instant(at)}))
    return render(request, current, "timeline.html", history=found.body, state=state, version=version, at=at)
