"""The console's routes, outside the OpenAPI document (it describes the JSON contract only), and
its vendored static files."""
import re
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from api.console import audit, dashboard, demands, desk, flows, records, venues
from api.console.labels import FIELDS, TRIGGER, problem_words
from api.console.pages import HERE, go, page_api, posted, render
from api.console.session import holder_of, sign_in, sign_out

router = APIRouter(prefix="/console", include_in_schema=False)
COLLECTIONS = ("demands", "claims", "venues", "bookings", "service-items", "service-requests")
TRIGGER_NAME = re.compile(r"[a-z_]{1,32}")


@router.get("/signin")
async def signin_page(request: Request, next: Annotated[str, Query(max_length=500)] = "/"):
    current, _ = await page_api(request)
    return render(request, current, "signin.html", next=next)


@router.post("/signin")
async def signin(request: Request):
    checked = await posted(request)
    if not isinstance(checked, tuple):
        return checked
    _, _, form = checked
    token = form.get("token", "").strip()
    if not token or len(token) > 200 or await run_in_threadpool(holder_of, request, token) is None:
        return go(request, "/console/signin", "error", "令牌无效、已过期或已吊销")
    response = go(request, form.get("next") or "/", "ok", "已登录")
    sign_in(request, response, token)
    return response


@router.post("/signout")
async def signout(request: Request):
    checked = await posted(request)
    if not isinstance(checked, tuple):
        return checked
    response = go(request, "/", "ok", "已退出")
    sign_out(response)
    return response


def _typed(field: str, value: str):
    """Numbers as numbers; anything else as typed, for the API to accept or refuse in words."""
    if field == "rating" and value.isdigit():
        return int(value)
    if field == "hours":
        try:
            return float(value)
        except ValueError:
            return value
    return value


@router.post("/act")
async def act(request: Request):
    """Any button of `allowed_actions`: POST /{collection}/{id}/actions/{trigger} as the signed-in user."""
    checked = await posted(request)
    if not isinstance(checked, tuple):
        return checked
    _, api, form = checked
    collection, trigger, back = form.get("collection", ""), form.get("trigger", ""), form.get("next", "/")
    try:
        record = UUID(form.get("id", ""))
    except ValueError:
        return go(request, back, "error", "记录编号有误")
    if collection not in COLLECTIONS or not TRIGGER_NAME.fullmatch(trigger):
        return go(request, back, "error", "不支持的操作")
    body = {name: _typed(name, form[name]) for name, *_ in FIELDS.get(trigger, []) if form.get(name, "") != ""}
    reply = await api.post(f"/{collection}/{record}/actions/{trigger}", body, key=form.get("nonce"))
    if not reply.ok:
        return go(request, back, "error", problem_words(reply.body))
    return go(request, back, "ok", f"已{TRIGGER.get(trigger, trigger)}")


def install(app: FastAPI) -> None:
    for module in (dashboard, demands, venues, desk, records, audit, flows):
        app.include_router(module.router)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
