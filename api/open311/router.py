"""The GeoReport v2 endpoints. Each answers in the format its suffix names; refusals are the
spec's error lists, never problem+json. Filing goes through the same application commands as the
JSON API, so a request filed here is the same aggregate with the same history and audit trail."""
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api import errors as api_errors
from api.auth import Unauthenticated
from api.open311 import callers, catalogue, filing, forms, present
from api.open311.render import FORMATS, Open311Error, errors, render
from api.wiring import Linli
from domain.errors import DomainError
from projections.open311 import requests_between, requests_by_id, updates_between

router = APIRouter(prefix="/open311/v2", include_in_schema=False)
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


def _system(request: Request) -> Linli:
    return request.app.state.linli


def _now(system: Linli) -> datetime:
    """Where the default 90 days end: events carry the store's time, deadlines the clock's."""
    return max(system.clock.now(), datetime.now(UTC))


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request) -> Response:
    def work() -> Response:
        url = str(request.base_url).rstrip("/") + router.prefix
        endpoint = {"specification": "http://wiki.open311.org/GeoReport_v2", "url": url,
                    "changeset": DISCOVERY["changeset"], "type": "production",
                    "formats": [media.partition(";")[0] for media in FORMATS.values()]}
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
    return await run_in_threadpool(_answer, fmt, lambda: render(fmt, "service_requests", "request", [
        filing.file(_system(request), request, body)], 201))


def _one(system: Linli, request: Request, raw_id: str, name: str) -> dict:
    """The one request a path names, if the caller may see it; else the spec's 404."""
    named = forms.path_id(raw_id)
    viewer = callers.viewer(callers.actor(system, request, dict(request.query_params)))
    rows = requests_by_id(system.db, [named], viewer) if named else []
    if not rows:
        raise Open311Error(404, f"{name} {raw_id} was not found")
    return rows[0]


def _requests(fmt: str, rows: list[dict], system: Linli) -> Response:
    now = system.clock.now()
    return render(fmt, "service_requests", "request", [present.request(system, row, now) for row in rows])


@router.get("/requests.{fmt}")
def get_requests(fmt: str, request: Request) -> Response:
    def work() -> Response:
        system, query = _system(request), dict(request.query_params)
        viewer = callers.viewer(callers.actor(system, request, query))
        ids = forms.listed(query.get("service_request_id"), "service_request_id", forms.MOST_REQUESTS)
        if ids is not None:
            return _requests(fmt, requests_by_id(system.db, ids, viewer), system)
        codes = forms.listed(query.get("service_code"), "service_code", 100)
        wanted = forms.listed(query.get("status"), "status", 2)
        if wanted is not None and set(wanted) - set(present.STATES):
            raise Open311Error(400, "status is open or closed (comma-delimited for both)")
        statuses = sorted(set().union(*(present.STATES[s] for s in wanted))) if wanted else None
        size, offset = forms.paging(query)
        since, until = forms.span(query, _now(system))
        keys = catalogue.keys(system, codes) if codes is not None else None
        rows = requests_between(system.db, since, until, viewer, keys, statuses, size, offset)
        return _requests(fmt, rows, system)

    return _answer(fmt, work)


@router.get("/requests/{request_id}.{fmt}")
def get_request(request_id: str, fmt: str, request: Request) -> Response:
    def work() -> Response:
        system = _system(request)
        return _requests(fmt, [_one(system, request, request_id, "service_request_id")], system)

    return _answer(fmt, work)


@router.get("/tokens/{token}.{fmt}")
def get_token(token: str, fmt: str, request: Request) -> Response:
    """Linli answers a filing with its id at once, so a request's token is its id."""
    def work() -> Response:
        row = _one(_system(request), request, token, "token")
        return render(fmt, "service_requests", "request", [{"service_request_id": row["id"], "token": token}])

    return _answer(fmt, work)


@router.get("/servicerequestupdates.{fmt}")
def updates(fmt: str, request: Request) -> Response:
    """FixMyStreet's extension: what happened to the requests, one update per event."""
    def work() -> Response:
        system, query = _system(request), dict(request.query_params)
        viewer = callers.viewer(callers.actor(system, request, query))
        size, offset = forms.paging(query)
        since, until = forms.span(query, _now(system))
        rows = updates_between(system.db, since, until, viewer, size, offset)
        return render(fmt, "service_requests_updates", "request_update", [present.update(row) for row in rows])

    return _answer(fmt, work)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    fmt = rest.rpartition(".")[2]
    return errors(fmt, 404, f"no Open311 endpoint /{rest}")

