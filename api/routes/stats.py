"""Platform statistics with breakdowns by grid, category and month."""
import json
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Response

from api.routes.common import CaughtUp, System

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
    moved = tuple((r["view"], r["context"], r["position"]) for r in system.db.rows(
        "SELECT view, context, position FROM tracking WHERE view IN ('stats', 'services') ORDER BY view, context"))
    cached = ANSWERS.get(system)
    if cached is None or cached[0] != moved:
        cached = ANSWERS[system] = (moved, json.dumps(_body(system), ensure_ascii=False).encode())
    return Response(cached[1], media_type="application/json")


def _body(system) -> dict:
    body: dict = {metric: 0 for metric in TOTALS}
    body.update({dimension: {} for dimension in ("by_grid", "by_category", "by_month")})
    for row in system.db.rows("SELECT metric, dimension, key, value FROM stats"):
        value = _number(row["value"])
        if row["dimension"] == "":
            body[row["metric"]] = value
        else:
            body[f"by_{row['dimension']}"].setdefault(row["key"], {})[row["metric"]] = value
    body["service_requests"] = _requests(system)
    return body


def _requests(system) -> dict:
    """Requests by state and by handling department, and the share resolved within the promised time."""
    by_state = {r["status"]: r["n"] for r in system.db.rows(
        "SELECT status, COUNT(*) AS n FROM service_requests GROUP BY status")}
    by_department = {r["handler_id"]: {"total": r["total"], "resolved": r["resolved"], "on_time": r["on_time"]}
                     for r in system.db.rows(
        "SELECT handler_id, COUNT(*) AS total, COUNT(outcome) AS resolved, "
        "SUM(CASE WHEN outcome IS NOT NULL AND NOT breached THEN 1 ELSE 0 END) AS on_time "
        "FROM service_requests WHERE handler_role = 'dept' GROUP BY handler_id")}
    resolved = sum(d["resolved"] for d in by_department.values())
    on_time = sum(d["on_time"] for d in by_department.values())
    return {"total": sum(by_state.values()), "by_state": by_state, "by_department": by_department,
            "on_time_rate": round(on_time / resolved, 4) if resolved else None}
