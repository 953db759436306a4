"""What must hold after the hot run, read once the projection worker has caught up: the seats
never exceed `needed`, the read models (demand_board, claims) and the API agree with the
aggregate, the waitlist is in the order the demand's events decided it, and no claim got a 5xx."""
from uuid import UUID

import httpx

from api.wiring import Linli
from domain.demand import SEATED, Demand


def hot_demand(system: Linli, base: str, admin_token: str, demand_id: str, statuses: dict[int, int]) -> dict:
    aggregate = system.demands.repository.get(UUID(demand_id))
    decisions = [(e.claim_id, e.claim_status) for e in system.demands.repository.event_store.get(UUID(demand_id))
                 if isinstance(e, Demand.ClaimNoted)]
    board = system.db.rows("SELECT needed, confirmed, waitlisted, status, version FROM demand_board WHERE id = %s",
                           (demand_id,))
    claims = system.db.rows("SELECT id, status FROM claims WHERE demand_id = %s ORDER BY created_at, id", (demand_id,))
    api = httpx.get(f"{base}/demands/{demand_id}", headers={"Authorization": f"Bearer {admin_token}"},
                    timeout=30).json()
    seats = min(aggregate.needed, len(decisions))
    held = {"needed": aggregate.needed, "version": aggregate.version, "status": aggregate.status,
            "confirmed": aggregate.confirmed, "waitlisted": len(aggregate.waitlist)}
    board_row = board[0] if board else {}
    checks = {
        "confirmed headcount ≤ needed": aggregate.confirmed <= aggregate.needed,
        "board row equals the aggregate": {k: board_row.get(k) for k in held} == held,
        "GET /demands/{id} equals the aggregate": {k: api.get(k) for k in held} == held,
        "claims read model equals the aggregate": {r["id"]: r["status"] for r in claims}
        == {cid: c["status"] for cid, c in aggregate.claims.items()},
        "first `needed` decisions seated, the rest waitlisted": [s for _, s in decisions]
        == ["confirmed"] * seats + ["waitlisted"] * (len(decisions) - seats),
        "waitlist in decision order": aggregate.waitlist == [c for c, s in decisions if s == "waitlisted"],
        "claims read model lists the waitlist in that order": [r["id"] for r in claims if r["status"] == "waitlisted"]
        == aggregate.waitlist,
        "0 5xx": sum(n for s, n in statuses.items() if s >= 500) == 0,
    }
    return {"demand": demand_id, **held, "claims": len(aggregate.claims),
            "seated": sum(1 for c in aggregate.claims.values() if c["status"] in SEATED),
            "answered_201": statuses.get(201, 0), "checks": checks, "holds": all(checks.values())}
