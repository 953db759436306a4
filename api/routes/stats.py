"""Platform statistics with breakdowns by grid, category and month."""
import json
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Response

from api.routes.common import CaughtUp, System
from projections import stats as figures
from projections.services import request_counts

router = APIRouter(tags=["stats"])
TOTALS = ("organisations", "members", "departments", "demands_published", "claims", "venues_shared", "bookings",
          "services_shared", "policy_items", "service_hours")


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


# A whole city's breakdowns are tens of thousands of numbers; they are rebuilt only when the
# read models behind them have moved (per process, per system), else the last answer is sent again.
# History is append-only, so a position always names the same history (tests that wipe a store
# clear this too: tests/support.py).
ANSWERS: "WeakKeyDictionary[object, tuple[tuple, bytes]]" = WeakKeyDictionary()


@router.get("/stats")
def stats(system: System, _: CaughtUp = None) -> Response:
    moved = figures.moved(system.db)
    cached = ANSWERS.get(system)
    if cached is None or cached[0] != moved:
        cached = ANSWERS[system] = (moved, json.dumps(_body(system), ensure_ascii=False).encode())
    return Response(cached[1], media_type="application/json")


def _body(system) -> dict:
    body: dict = {metric: 0 for metric in TOTALS}
    body.update({dimension: {} for dimension in ("by_grid", "by_category", "by_month")})
    for row in figures.figures(system.db):
        value = _number(row["value"])
        if row["dimension"] == "":
            body[row["metric"]] = value
        else:
            body[f"by_{row['dimension']}"].setdefault(row["key"], {})[row["metric"]] = value
    body["service_requests"] = _requests(system)
    return body


def _requests(system) -> dict:
    """Requests by state and by handling department, and the share resolved within the promised time."""
    by_state, by_department = request_counts(system.db)
    resolved = sum(d["resolved"] for d in by_department.values())
    on_time = sum(d["on_time"] for d in by_department.values())
    return {"total": sum(by_state.values()), "by_state": by_state, "by_department": by_department,
            "on_time_rate": round(on_time / resolved, 4) if resolved else None}
