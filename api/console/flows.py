"""流程: each lifecycle drawn from its table (states, triggers, roles), with the table itself."""
from fastapi import APIRouter, Request

from api.console import charts
from api.console.labels import STATUS, TRIGGER
from api.console.pages import page_api, render

router = APIRouter(prefix="/console", include_in_schema=False)
NAMES = {"demand": "需求", "claim": "认领", "venue": "场地", "booking": "场地预约", "service_item": "服务事项",
         "service_request": "企业诉求"}


@router.get("/workflows")
async def workflows(request: Request):
    current, api = await page_api(request)
    described = (await api.get("/workflows")).body.get("items", [])
    drawn = [(w, NAMES.get(w["name"], w["name"]),
              charts.lifecycle(w, lambda s: STATUS.get(s, s), lambda t: TRIGGER.get(t, t))) for w in described]
    return render(request, current, "workflows.html", workflows=drawn)
