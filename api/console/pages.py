"""Rendering: the template environment, the page frame's context and the headers every page gets."""
import re
import secrets
from datetime import datetime
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from api.console import labels
from api.console.client import Api
from api.console.session import (ROLE_NAMES, Session, clear_flash, csrf_ok, flash, keep_presession, read_flash,
                                 session)
from domain.city import CITY_TZ

HERE = Path(__file__).parent
# A path on this server: one leading slash, then no slash or backslash, and no space or control
# character anywhere (browsers drop tabs and newlines, which would turn "/\t/x" into "//x").
LOCAL_PATH = re.compile(r"/(?![/\\])[^\s\x00-\x1f\x7f\\]*")
# Scripts and styles only from this server: a page cannot load anything from elsewhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
NAV = [("/", "首页", None), ("/console/demands", "需求大厅", None), ("/console/venues", "场地", None),
       ("/console/desk", "部门工作台", ("dept", "admin", "auditor")),
       ("/console/record", "志愿服务记录", ("member", "org", "admin", "auditor")),
       ("/console/audit", "审计", ("admin", "auditor")), ("/console/workflows", "流程", None)]


def _local(value) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")


def _value(value) -> str:
    """A recorded field as a reader would write it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(local=_local, value=_value, status=lambda s: labels.STATUS.get(s, s or ""),
                       trigger=lambda t: labels.TRIGGER.get(t, t))
    env.globals.update(labels=labels, role_names=ROLE_NAMES)
    return env


ENV = _environment()


def nav_for(current: Session) -> list[tuple[str, str]]:
    return [(href, name) for href, name, roles in NAV if roles is None or current.role in roles]


def render(request: Request, current: Session, template: str, code: int = 200, **context) -> HTMLResponse:
    message = read_flash(request)
    context.update(request=request, session=current, nav=nav_for(current), path=request.url.path, flash=message,
                   nonce=secrets.token_urlsafe(12))
    response = HTMLResponse(ENV.get_template(template).render(context), code)
    if message:
        clear_flash(response)
    keep_presession(request, response, current)
    secure(response)
    return response


def secure(response) -> None:
    response.headers.update({"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                             "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
                             "Cache-Control": "no-store"})


async def page_api(request: Request) -> tuple[Session, Api]:
    """The caller's session (its token looked up off the event loop) and the API as that caller."""
    current = await run_in_threadpool(session, request)
    return current, Api(request, current.token)


def local_path(value: str | None, fallback: str = "/") -> str:
    """Only a path on this server is a place to go back to (no open redirect)."""
    return value if value and LOCAL_PATH.fullmatch(value) else fallback


async def posted(request: Request) -> tuple[Session, Api, dict] | RedirectResponse:
    """A form post's fields once its CSRF token checks out; else back with the refusal."""
    current, api = await page_api(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    back = local_path(form.get("next") or request.headers.get("referer", "").partition(request.url.netloc)[2])
    if not csrf_ok(request, current, form.get("csrf", "")):
        return go(request, back, "error", "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")
    return current, api, form


def go(request: Request, where: str, kind: str | None = None, text: str = "") -> RedirectResponse:
    """After a post, back to a page (303: the browser then GETs it), with a message for it."""
    response = RedirectResponse(local_path(where), 303)
    if kind:
        flash(request, response, kind, text)
    secure(response)
    return response
