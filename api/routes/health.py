"""Liveness, readiness (database reachable, projection lag) and Prometheus metrics."""
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from api.routes.common import System

router = APIRouter(tags=["health"])


def _lag(system) -> dict:
    heads, positions = system.projector.heads(), system.projector.positions()
    return {view: {c: {"position": p[c], "head": heads[c], "lag": max(0, heads[c] - p[c])} for c in heads}
            for view, p in positions.items()}


@router.get("/health")
def health() -> dict:
    return {"status": "ok"}


@router.get("/ready")
def ready(system: System):
    lag = _lag(system)
    return JSONResponse({"status": "ready", "projections": lag})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(system: System) -> str:
    lines = ["# TYPE linli_log_head gauge", "# TYPE linli_projection_lag_events gauge"]
    for view, contexts in _lag(system).items():
        for context, figures in contexts.items():
            lines.append(f'linli_log_head{{context="{context}"}} {figures["head"]}')
            lines.append(f'linli_projection_lag_events{{view="{view}",context="{context}"}} {figures["lag"]}')
    return "\n".join(dict.fromkeys(lines)) + "\n"
