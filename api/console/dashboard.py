"""首页: the city's headline figures, trends by month, breakdowns, and the role's 待办 card."""
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.console import charts
from api.console.pages import page_api, render
from projections import todo

router = APIRouter(include_in_schema=False)


async def _todo(request: Request, current, api) -> list[dict]:
    """Cards of what awaits the signed-in party, each with a count and the first few records."""
    role, subject, db = current.role, current.actor.id if current.actor else None, request.app.state.linli.db
    cards = []
    if role == "admin":
        review = await api.get("/demands", status="pending_review", page_size=5)
        cards.append({"title": "待审核需求", "total": review.body.get("total", 0),
                      "items": [(f"/console/demands/{d['id']}", d["title"]) for d in review.body.get("items", [])]})
        items = await api.get("/service-items", status="in_review", page_size=5)
        cards.append({"title": "待发布服务事项", "total": items.body.get("total", 0),
                      "items": [(f"/console/items/{i['id']}", i["title"]) for i in items.body.get("items", [])]})
    if role == "org":
        total, rows = await run_in_threadpool(todo.claims_to_confirm, db, subject)
        cards.append({"title": "待确认认领", "total": total,
                      "items": [(f"/console/demands/{r['demand_id']}", f"{r['title']}（{r['headcount']} 人）")
                                for r in rows]})
        total, rows = await run_in_threadpool(todo.bookings_to_approve, db, subject)
        cards.append({"title": "待审批场地预约", "total": total,
                      "items": [(f"/console/venues/{r['venue_id']}", r["name"]) for r in rows]})
    if role in ("member", "org"):
        total, rows = await run_in_threadpool(todo.claims_to_attend, db, subject, role)
        cards.append({"title": "待签到 / 待完成的服务", "total": total,
                      "items": [(f"/console/demands/{r['demand_id']}", r["title"]) for r in rows]})
    if role == "dept":
        queue = await api.get(f"/departments/{subject}/queue", page_size=100)
        urgent = [r for r in queue.body.get("items", []) if r.get("sla") in ("warning", "breached")]
        waiting = [r for r in queue.body.get("items", []) if r.get("status") == "submitted"]
        cards.append({"title": "临近或超过承诺时限", "total": len(urgent),
                      "items": [(f"/console/requests/{r['id']}", r["subject"]) for r in urgent[:5]]})
        cards.append({"title": "待受理诉求", "total": len(waiting),
                      "items": [(f"/console/requests/{r['id']}", r["subject"]) for r in waiting[:5]]})
    if role == "auditor":
        cards.append({"title": "审计", "total": None, "items": [("/console/audit", "查看事件索引与校验结果")]})
    return cards


def figures(stats: dict) -> dict:
    """What the dashboard draws from `/stats`: the breakdowns by district and grid type appear
    when the read model carries them."""
    by_month = stats.get("by_month", {})
    breakdowns = [(name, title, stats[name], charts.bars(stats[name]))
                  for name, title in (("by_district", "按区"), ("by_grid_type", "按网格类型")) if stats.get(name)]
    return {"stats": stats, "headline": charts.HEADLINE, "months": sorted(by_month), "trend": charts.trend(by_month),
            "trend_metrics": charts.TREND, "breakdowns": breakdowns, "breakdown_metrics": charts.BREAKDOWN}


@router.get("/")
async def home(request: Request):
    current, api = await page_api(request)
    stats = (await api.get("/stats")).body
    return render(request, current, "home.html", **figures(stats),
                  todo=await _todo(request, current, api) if current.actor else [])
