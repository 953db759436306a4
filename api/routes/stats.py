"""Platform statistics with breakdowns by grid, category and month."""
from fastapi import APIRouter

from api.routes.common import MinPosition, System, wait_for_positions

router = APIRouter(tags=["stats"])
TOTALS = ("organisations", "members", "demands_published", "claims", "venues_shared", "bookings", "service_hours")


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 2)


@router.get("/stats")
def stats(system: System, min_position: MinPosition = None) -> dict:
    wait_for_positions(system, min_position)
    body: dict = {metric: 0 for metric in TOTALS}
    body.update({dimension: {} for dimension in ("by_grid", "by_category", "by_month")})
    for row in system.db.rows("SELECT metric, dimension, key, value FROM stats"):
        value = _number(row["value"])
        if row["dimension"] == "":
            body[row["metric"]] = value
        else:
            body[f"by_{row['dimension']}"].setdefault(row["key"], {})[row["metric"]] = value
    return body
