"""需求大厅: the board with filters and paging, a demand with its claims and waitlist, posting and
claiming. Every read and command is the JSON API's, as the signed-in user."""
from uuid import UUID

from fastapi import APIRouter, Request

from api.console.forms import instant, number, page_number, ticked
from api.console.labels import STATUS, problem_words
from api.console.pages import go, page_api, posted, render

router = APIRouter(prefix="/console/demands", include_in_schema=False)
FILTERS = ("status", "grid", "category", "q")
PAGE_SIZE = 20


@router.get("")
async def board(request: Request):
    current, api = await page_api(request)
    chosen = {k: request.query_params.get(k, "")[:200] for k in FILTERS}
    page = page_number(request.query_params.get("page"))
    listed = await api.get("/demands", **chosen, page=page, page_size=PAGE_SIZE)
    stats = (await api.get("/stats")).body
    grids = {gid: (row.get("name") or gid) for gid, row in stats.get("by_grid", {}).items()}
    total = listed.body.get("total", 0)
    return render(request, current, "demands.html", listed=listed.body.get("items", []), total=total, page=page,
                  pages=max(1, -(-total // PAGE_SIZE)), chosen=chosen, grids=grids,
                  categories=sorted(stats.get("by_category", {})), problem=listed.problem)


@router.post("")
async def post_demand(request: Request):
    checked = await posted(request)
    if not isinstance(checked, tuple):
        return checked
    _, api, form = checked
    body = {"title": form.get("title", ""), "description": form.get("description", ""),
            "category": form.get("category", ""), "grid_id": form.get("grid_id", ""),
            "needed": number(form.get("needed")), "claim_deadline": instant(form.get("claim_deadline")),
            "starts_at": instant(form.get("starts_at")), "ends_at": instant(form.get("ends_at")),
            "auto_confirm": ticked(form.get("auto_confirm"))}
    made = await api.post("/demands", body, key=form.get("nonce"))
    if not made.ok:
        return go(request, "/console/demands", "error", problem_words(made.body))
    where = f"/console/demands/{made.body['id']}"
    if ticked(form.get("submit_now")):
        sent = await api.post(f"/demands/{made.body['id']}/actions/submit", key=f"{form.get('nonce')}-submit")
        if not sent.ok:
            return go(request, where, "error", problem_words(sent.body))
        return go(request, where, "ok", "需求已提交审核")
    return go(request, where, "ok", "需求草稿已保存")


@router.get("/{demand_id}")
async def demand_page(demand_id: UUID, request: Request):
    current, api = await page_api(request)
    found = await api.get(f"/demands/{demand_id}")
    if not found.ok:
        return render(request, current, "missing.html", 404, problem=found.body)
    claims = (await api.get(f"/demands/{demand_id}/claims", page_size=100)).body.get("items", []) \
        if current.actor else []
    waitlist = [c for c in claims if c["status"] == "waitlisted"]
    return render(request, current, "demand.html", demand=found.body, claims=claims, waitlist=waitlist,
                  can_claim=current.role in ("member", "org") and found.body["status"] in ("open", "filled"))


@router.post("/{demand_id}/claims")
async def claim(demand_id: UUID, request: Request):
    checked = await posted(request)
    if not isinstance(checked, tuple):
        return checked
    _, api, form = checked
    where = f"/console/demands/{demand_id}"
    made = await api.post(f"/demands/{demand_id}/claims",
                          {"headcount": number(form.get("headcount")) or 1, "note": form.get("note", "")},
                          key=form.get("nonce"))
    if not made.ok:
        return go(request, where, "error", problem_words(made.body))
    return go(request, where, "ok", f"已认领（{STATUS.get(made.body['status'], made.body['status'])}）")
