"""Liveness, readiness (database reachable, projection lag) and Prometheus metrics."""
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from api.routes.common import System
from projections.worker import lag_seconds

router = APIRouter(tags=["health"])


def _lag(system) -> dict:
    heads, positions, ages = system.projector.heads(), system.projector.positions(), lag_seconds(system.projector)
    return {view: {c: {"position": p[c], "head": heads[c], "lag": max(0, heads[c] - p[c]),
                       "lag_seconds": ages[view][c]} for c in heads}
            for view, p in positions.items()}


@router.get("/health")
def health() -> dict:
    return {"status": "ok"}


def _stopped(system) -> list[dict]:
    return [vars(stop) for stop in system.projector.stops()]


@router.get("/ready")
def ready(system: System):
    """Ready when the database answers; the body says how far each read model lags, and names any
    read model stopped at an event it cannot apply ("degraded": commands and the other read models
    carry on, so the process stays in service)."""
    stopped = _stopped(system)
    return JSONResponse({"status": "degraded" if stopped else "ready", "projections": _lag(system),
                         "stopped": stopped})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(system: System) -> str:
    return prometheus(_lag(system), _stopped(system))


def prometheus(lag: dict, stops: list[dict]) -> str:
    """The read models' positions, lags and stops in Prometheus' text format."""
    lines = ["# TYPE linli_log_head gauge", "# TYPE linli_projection_position gauge",
             "# TYPE linli_projection_lag_events gauge", "# TYPE linli_projection_lag_seconds gauge",
             "# TYPE linli_projection_stopped gauge"]
    for view, contexts in lag.items():
        for context, figures in contexts.items():
            labels = f'view="{view}",context="{context}"'
            lines.append(f'linli_log_head{{context="{context}"}} {figures["head"]}')
            lines.append(f"linli_projection_position{{{labels}}} {figures['position']}")
            lines.append(f"linli_projection_lag_events{{{labels}}} {figures['lag']}")
            lines.append(f"linli_projection_lag_seconds{{{labels}}} {figures['lag_seconds']}")
    for stop in stops:
        error = stop["error"].partition(":")[0]
        lines.append(f'linli_projection_stopped{{view="{stop["view"]}",context="{stop["context"]}",'
                     f'position="{stop["position"]}",event="{stop["event_type"]}",error="{error}"}} 1')
    return "\n".join(dict.fromkeys(lines)) + "\n"
