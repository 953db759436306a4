"""Platform statistics with breakdowns by grid, district, grid type, category and month."""
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Response

from api.routes.common import CaughtUp, System
from projections.stats import answer, positions

router = APIRouter(tags=["stats"])

# The stats view keeps the answer's parts ready (projections/stats.py); the last answer is sent
# again while the read models behind it have not moved (per process, per system). History is
# append-only, so a position always names the same history (tests that wipe a store clear this
# too: tests/support.py).
ANSWERS: "WeakKeyDictionary[object, tuple[tuple, bytes]]" = WeakKeyDictionary()


@router.get("/stats")
def stats(system: System, _: CaughtUp = None) -> Response:
    moved = positions(system.db)
    cached = ANSWERS.get(system)
    if cached is None or cached[0] != moved:
        cached = ANSWERS[system] = (moved, answer(system.db))
    return Response(cached[1], media_type="application/json")
