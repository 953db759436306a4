"""The FastAPI app factory: builds the system in the lifespan, never at import time."""
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.console import router as console
from api.gate import RequestGate
from api.idempotency import IdempotencyMiddleware
from api.open311.router import router as open311
from api.routes import (audit, bookings, claims, demands, health, registry, service_records, services, stats,
                        tokens, venues, workflows)
from api.routes.common import PositionWaits
from api.settings import Settings
from api.wiring import Linli


def _timer_loop(system: Linli, stop: threading.Event) -> None:
    """The server's background timer: fire due deadlines every interval until shutdown."""
    while not stop.wait(system.settings.timer_interval_seconds):
        try:
            system.timers.tick()
        except Exception:  # noqa: BLE001 - a failed tick (database down) is retried next interval
            continue


PROBLEM = {"type": "object", "required": ["type", "title", "status", "detail"], "additionalProperties": True,
           "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                          "detail": {"type": "string"}}}


def _with_problems(app: FastAPI) -> None:
    """The OpenAPI document says what errors really look like: every 4xx and 5xx is an RFC 9457
    problem (api/errors.py), not FastAPI's default validation shape."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = generate()
            problem = {"description": "a problem (RFC 9457)",
                       "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for operations in document["paths"].values():
                for operation in operations.values():
                    operation["responses"].pop("422", None)
                    operation["responses"].update({"4XX": problem, "5XX": problem})
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            schemas["Problem"] = PROBLEM
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi


def create_app(system: Linli | None = None, run_timers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.linli = system or Linli(Settings())
        app.state.position_waits = PositionWaits(app.state.linli.settings.max_position_waiters)
        stop = threading.Event()
        if run_timers and app.state.linli.settings.timer_interval_seconds > 0:
            threading.Thread(target=_timer_loop, args=(app.state.linli, stop), daemon=True).start()
        yield
        stop.set()
        if system is None:
            app.state.linli.shutdown()

    app = FastAPI(title="Linli 邻里", version="0.1.0", lifespan=lifespan,
                  description="Event-sourced workflow engine for a city's neighbourhood service marketplace.")
    errors.install(app)
    _with_problems(app)
    for module in (tokens, registry, demands, claims, service_records, venues, bookings, services, stats, workflows,
                   audit, health):
        app.include_router(module.router)
    console.install(app)  # the web console at `/`, outside the OpenAPI document
    app.include_router(open311)  # not in the OpenAPI document: its replies are Open311's (docs/open311.md)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(RequestGate)  # outermost: added last
    return app
