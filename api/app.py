"""The FastAPI app factory: builds the system in the lifespan, never at import time."""
import threading
from contextlib import asynccontextmanager
from uuid import uuid4

from fastapi import FastAPI, Request

from api import errors
from api.idempotency import IdempotencyMiddleware
from api.routes import (audit, bookings, claims, demands, health, registry, service_records, services, stats,
                        tokens, venues, workflows)
from api.settings import Settings
from api.wiring import Linli


def _timer_loop(system: Linli, stop: threading.Event) -> None:
    """The server's background timer: fire due deadlines every interval until shutdown."""
    while not stop.wait(system.settings.timer_interval_seconds):
        try:
            system.timers.tick()
        except Exception:  # noqa: BLE001 - a failed tick (database down) is retried next interval
            continue


async def _has_nul(request: Request) -> bool:
    """PostgreSQL text cannot hold U+0000: refuse it at the door, in the query and in JSON bodies."""
    if "%00" in request.url.query:
        return True
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    body = await request.body()
    return b"\x00" in body or b"\\u0000" in body.lower()


def create_app(system: Linli | None = None, run_timers: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.linli = system or Linli(Settings())
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
    for module in (tokens, registry, demands, claims, service_records, venues, bookings, services, stats, workflows,
                   audit, health):
        app.include_router(module.router)
    app.add_middleware(IdempotencyMiddleware)

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        request.state.request_id = request.headers.get("x-request-id") or str(uuid4())
        if await _has_nul(request):
            response = errors.problem(422, "validation", "text must not contain NUL (U+0000) characters")
        else:
            response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    return app
