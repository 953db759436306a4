"""The GeoReport v2 endpoints. Each answers in the format its suffix names; refusals are the
spec's error lists, never problem+json. Filing goes through the same application commands as the
JSON API, so a request filed here is the same aggregate with the same history and audit trail."""
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api import errors as api_errors
from api.auth import Unauthenticated, caller, holder_for
from api.open311 import catalogue, forms, present
from api.open311.render import FORMATS, Open311Error, errors, render
from api.routes.common import meta, new_id
from api.wiring import Linli
from domain.actors import Actor, Role
from domain.errors import DomainError
from projections.open311 import Viewer, requests_between, requests_by_id, updates_between
from projections.projector import iso

router = APIRouter(prefix="/open311/v2", include_in_schema=False)
SPAN = timedelta(days=90)
MOST_REQUESTS = 1000
DISCOVERY = {"changeset": "2026-12-02T00:00:00+08:00", "contact": "福州市党建超市（邻里）平台运营方",
             "key_service": "api_key：平台为组织签发的令牌（linli tokens create org）"}


def _answer(fmt: str, work: Callable[[], Response]) -> Response:
    if fmt not in FORMATS:
        return errors("json", 404, f"format {fmt} is not served: use json or xml")
    try:
        return work()
    except Open311Error as error:
        return errors(fmt, error.status, error.description)
    except Unauthenticated as error:
        return errors(fmt, 403, f"invalid api_key: {error}")
    except DomainError as error:
        status = api_errors.status_of(error)
        return errors(fmt, status if status in (403, 404, 503) else 400, str(error))


def _actor(system: Linli, request: Request, fields: dict[str, str]) -> Actor | None:
    """The caller named by `api_key` (or an Authorization header), None for anonymous readers."""
    key = fields.get("api_key")
    if key is not None:
        if not key.strip():
            raise Open311Error(403, "api_key is empty")
        return holder_for(system, key.strip()).actor
    holder = caller(request)
    return holder.actor if holder else None


def _viewer(actor: Actor | None) -> Viewer:
    if actor is None:
        return Viewer()
    if actor.role in (Role.ADMIN, Role.AUDITOR):
        return Viewer(sees_all=True)
    return Viewer(owner_id=actor.id if actor.role is Role.ORG else "",
                  agency=(actor.role.value, actor.id) if actor.role in (Role.ORG, Role.DEPT) else ("", ""))


def _system(request: Request) -> Linli:
    return request.app.state.linli


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    def work() -> Response:
        url = str(request.base_url).rstrip("/") + router.prefix
        endpoint = {"specification": "http://wiki.open311.org/GeoReport_v2", "url": url,
                    "changeset": DISCOVERY["changeset"], "type": "production", "formats": list(FORMATS.values())}
        return render(fmt, "discovery", None, {**DISCOVERY, "endpoints": [endpoint]})

    return _answer(fmt, work)


@router.get("/services.{fmt}")
def services(fmt: str, request: Request) -> Response:
    return _answer(fmt, lambda: render(fmt, "services", "service", catalogue.services(_system(request))))


@router.get("/services/{code}.{fmt}")
def service_definition(code: str, fmt: str, request: Request) -> Response:
    def work() -> Response:
        found = catalogue.service(_system(request), code)
        return render(fmt, "service_definition", None, catalogue.definition(found))

    return _answer(fmt, work)


@router.post("/requests.{fmt}")
async def post_request(fmt: str, request: Request) -> Response:
    body = await request.body()
    return await run_in_threadpool(_answer, fmt, lambda: _file(fmt, request, body))


def _file(fmt: str, request: Request, body: bytes) -> Response:
    system = _system(request)
    fields = forms.form(body, dict(request.query_params))
    if not fields.get("api_key"):
        raise Open311Error(403, "api_key is required to create a request")
    actor = _actor(system, request, fields)
    if actor.role is not Role.ORG:
        raise Open311Error(403, "api_key must be an organisation's token")
    if not fields.get("service_code"):
        raise Open311Error(400, "service_code is required")
    found = catalogue.service(system, fields["service_code"])
    place, text, given = forms.location(fields), forms.description(fields), forms.attributes(fields)
    request_id = new_id(request, actor)
    if found.item is not None:
        subject = given.get("subject", "").strip()
        if not subject:
            raise Open311Error(400, "attribute[subject] is required")
        system.services.file_request(meta(request, actor), request_id, found.item.id, subject, text, place)
        notice = f"承诺时限 {found.item.content['promised_days']} 个工作日，自部门受理起算"
    else:
        _post_demand(system, request, actor, request_id, found.category, text, place, given)
        notice = "需求已提交，平台审核通过后在需求大厅发布"
    system.project()
    return render(fmt, "service_requests", "request",
                  [{"service_request_id": str(request_id), "service_notice": notice, "account_id": None}], 201)


def _post_demand(system: Linli, request: Request, actor: Actor, demand_id, category: str, text: str,
                 place: dict, given: dict[str, str]) -> None:
    """Post a demand of the category and submit it for review: two commands, both decided on
    input checked before the first."""
    organisation = system.registry.find(actor.id, "organisation")
    if organisation is None:
        raise Open311Error(403, "api_key names no registered organisation")
    for code in ("needed", "starts_at", "ends_at"):
        if not given.get(code, "").strip():
            raise Open311Error(400, f"attribute[{code}] is required")
    grid_id = given.get("grid_id", "").strip() or organisation.grid_id
    if system.registry.find(grid_id, "grid") is None:
        raise Open311Error(400, f"attribute[grid_id] names no registered grid: {grid_id}")
    starts_at = forms.when(given["starts_at"], "attribute[starts_at]")
    details = {"title": given.get("title", "").strip() or category, "description": text, "category": category,
               "grid_id": grid_id, "needed": forms.whole(given["needed"], "attribute[needed]"),
               "starts_at": starts_at, "ends_at": forms.when(given["ends_at"], "attribute[ends_at]"),
               "claim_deadline": forms.when(given["claim_deadline"], "attribute[claim_deadline]")
               if given.get("claim_deadline", "").strip() else starts_at, "auto_confirm": False}
    system.demands.post_demand(meta(request, actor), demand_id, actor.id, **details, location=place)
    system.demands.act_on_demand(meta(request, actor), demand_id, "submit")


def _requests(fmt: str, rows: list[dict], system: Linli) -> Response:
    now = system.clock.now()
    return render(fmt, "service_requests", "request", [present.request(system, row, now) for row in rows])


def _span(system: Linli, query: dict[str, str]) -> tuple[str, str]:
    """start_date and end_date as stored instants; at most 90 days apart, the last 90 by default."""
    start = forms.when(query["start_date"], "start_date") if query.get("start_date") else None
    end = forms.when(query["end_date"], "end_date") if query.get("end_date") else None
    if start is None and end is None:  # events carry the store's time, deadlines the clock's: the later
        end = max(system.clock.now(), datetime.now(UTC))
    start = start if start is not None else end - SPAN
    end = end if end is not None else start + SPAN
    if end < start:
        raise Open311Error(400, "end_date must not be before start_date")
    if end - start > SPAN:
        raise Open311Error(400, "start_date and end_date may not span more than 90 days")
    return iso(start), iso(end)


def _paging(query: dict[str, str]) -> tuple[int, int]:
    """The paging extension's `page` and `page_size` as a limit and an offset."""
    page = forms.whole(query.get("page", "1"), "page")
    size = forms.whole(query.get("page_size", str(MOST_REQUESTS)), "page_size")
    if not (1 <= page <= 100_000 and 1 <= size <= MOST_REQUESTS):
        raise Open311Error(400, f"page is from 1 to 100,000 and page_size from 1 to {MOST_REQUESTS:,}")
    return size, (page - 1) * size


@router.get("/requests.{fmt}")
def get_requests(fmt: str, request: Request) -> Response:
    def work() -> Response:
        system, query = _system(request), dict(request.query_params)
        viewer = _viewer(_actor(system, request, query))
        ids = forms.listed(query.get("service_request_id"), "service_request_id", MOST_REQUESTS)
        if ids is not None:
            return _requests(fmt, requests_by_id(system.db, ids, viewer), system)
        codes = forms.listed(query.get("service_code"), "service_code", 100)
        wanted = forms.listed(query.get("status"), "status", 2)
        if wanted is not None and set(wanted) - set(present.STATES):
            raise Open311Error(400, "status is open or closed (comma-delimited for both)")
        statuses = sorted(set().union(*(present.STATES[s] for s in wanted))) if wanted else None
        size, offset = _paging(query)
        since, until = _span(system, query)
        keys = catalogue.keys(system, codes) if codes is not None else None
        rows = requests_between(system.db, since, until, viewer, keys, statuses, size, offset)
        return _requests(fmt, rows, system)

    return _answer(fmt, work)


@router.get("/requests/{request_id}.{fmt}")
def get_request(request_id: str, fmt: str, request: Request) -> Response:
    def work() -> Response:
        system = _system(request)
        named = forms.path_id(request_id)
        viewer = _viewer(_actor(system, request, dict(request.query_params)))
        rows = requests_by_id(system.db, [named], viewer) if named else []
        if not rows:
            raise Open311Error(404, f"service_request_id {request_id} was not found")
        return _requests(fmt, rows, system)

    return _answer(fmt, work)


@router.get("/tokens/{token}.{fmt}")
def get_token(token: str, fmt: str, request: Request) -> Response:
    """Linli answers a filing with its id at once, so a request's token is its id."""
    def work() -> Response:
        system = _system(request)
        named = forms.path_id(token)
        viewer = _viewer(_actor(system, request, dict(request.query_params)))
        rows = requests_by_id(system.db, [named], viewer) if named else []
        if not rows:
            raise Open311Error(404, f"token {token} was not found")
        return render(fmt, "service_requests", "request", [{"service_request_id": rows[0]["id"], "token": token}])

    return _answer(fmt, work)


@router.get("/servicerequestupdates.{fmt}")
def updates(fmt: str, request: Request) -> Response:
    """FixMyStreet's extension: what happened to the requests, one update per event."""
    def work() -> Response:
        system, query = _system(request), dict(request.query_params)
        viewer = _viewer(_actor(system, request, query))
        size, offset = _paging(query)
        since, until = _span(system, query)
        rows = updates_between(system.db, since, until, viewer, size, offset)
        return render(fmt, "service_requests_updates", "request_update", [present.update(row) for row in rows])

    return _answer(fmt, work)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    fmt = rest.rpartition(".")[2]
    return errors(fmt, 404, f"no Open311 endpoint /{rest}")

