"""Every error leaves as RFC 9457 problem+json, mapped here once from domain errors."""
import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from domain import errors as domain

TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          409: "Conflict", 412: "Precondition failed", 413: "Content too large", 422: "Unprocessable content",
          500: "Internal server error", 503: "Service unavailable"}
log = logging.getLogger("linli.api")


def problem(status: int, slug: str, detail: str, headers: dict | None = None, **extra) -> JSONResponse:
    body = {"type": f"/problems/{slug}", "title": TITLES.get(status, "Error"), "status": status, "detail": detail,
            **extra}
    return JSONResponse(jsonable_encoder(body), status, headers=headers, media_type="application/problem+json")


def _domain(request: Request, error: domain.DomainError) -> JSONResponse:
    match error:
        case domain.TransitionNotAllowedError():
            return problem(409, "invalid-transition", str(error), current_status=error.current,
                           allowed_actions=error.allowed)
        case domain.GuardFailedError():
            return problem(409, "guard-failed", str(error), current_status=error.current,
                           allowed_actions=error.allowed)
        case domain.ForbiddenError():
            return problem(403, "forbidden", str(error))
        case domain.NotFoundError():
            return problem(404, "not-found", str(error))
        case domain.CapacityExceededError():
            return problem(409, "capacity-exceeded", str(error))
        case domain.DuplicateClaimError():
            return problem(409, "duplicate-claim", str(error))
        case domain.StaleVersionError():
            return problem(412, "stale-version", str(error), current_version=error.actual)
        case domain.BookingRuleError():
            return problem(422, "booking-rule", str(error), rule=error.rule)
        case domain.SlotTakenError():
            return problem(409, "slot-taken", str(error))
        case domain.ValidationError():
            return problem(422, "validation", str(error))
        case domain.OverloadedError():
            return problem(503, "busy", str(error), headers={"Retry-After": "1"})
        case domain.ConcurrencyError():
            return problem(409, "concurrent-update", str(error), headers={"Retry-After": "1"})
        case domain.Unauthenticated():
            return problem(401, "unauthenticated", str(error), headers={"WWW-Authenticate": "Bearer"})
    return problem(400, "bad-request", str(error))


def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
              for e in error.errors()]
    detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
    return problem(422, "validation", detail, errors=errors)


def _http(request: Request, error: HTTPException) -> JSONResponse:
    slug = {404: "not-found", 405: "method-not-allowed", 503: "unavailable"}.get(error.status_code, "http-error")
    return problem(error.status_code, slug, str(error.detail), headers=error.headers)


def _unavailable(request: Request, error: Exception) -> JSONResponse:
    return problem(503, "unavailable", "the database is unreachable; try again shortly", headers={"Retry-After": "2"})


def _internal(request: Request, error: Exception) -> JSONResponse:
    """A bug, not bad input: logged in full under the request id; the client gets only that id."""
    request_id = getattr(request.state, "request_id", None)
    log.error("request %s failed: %s %s", request_id, request.method, request.url.path, exc_info=error)
    return problem(500, "internal", "the server failed on this request; it is logged under this request id",
                   request_id=request_id)


def install(app: FastAPI) -> None:
    import psycopg
    import psycopg_pool
    from eventsourcing.persistence import PersistenceError

    app.add_exception_handler(domain.DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(psycopg.OperationalError, _unavailable)
    app.add_exception_handler(psycopg_pool.PoolTimeout, _unavailable)
    app.add_exception_handler(PersistenceError, _unavailable)
    app.add_exception_handler(Exception, _internal)  # Starlette's outermost handler, for anything else


def status_of(error: domain.DomainError) -> int:
    """The HTTP status a domain error maps to (for façades that word errors their own way)."""
    return _domain(None, error).status_code
