"""What awaits a party's action (the console's 待办 card), read from the tables the demand board
and the venue directory keep. Each query names only records the API already shows that party:
claims on the organisation's own demands, bookings of its own venues, the member's own claims."""
from projections.db import Database

LIMIT = 5


def claims_to_confirm(db: Database, organisation_id: str) -> tuple[int, list[dict]]:
    """Pending claims on the organisation's demands, oldest first."""
    return _waiting(db, "claims c JOIN demand_board d ON d.id = c.demand_id",
                    "c.owner_id = %s AND c.status = 'pending'", (organisation_id,),
                    "c.id, c.demand_id, c.headcount, c.created_at, d.title", "c.created_at, c.id")


def bookings_to_approve(db: Database, organisation_id: str) -> tuple[int, list[dict]]:
    """Requested bookings of the organisation's venues, soonest first."""
    return _waiting(db, "bookings b JOIN venues v ON v.id = b.venue_id",
                    "b.owner_id = %s AND b.status = 'requested'", (organisation_id,),
                    "b.id, b.venue_id, b.starts_at, b.ends_at, v.name", "b.starts_at, b.id")


def claims_to_attend(db: Database, claimant_id: str, role: str) -> tuple[int, list[dict]]:
    """The claimant's confirmed and checked-in claims: to check in, then to complete."""
    return _waiting(db, "claims c JOIN demand_board d ON d.id = c.demand_id",
                    "c.claimant_id = %s AND c.claimant_role = %s AND c.status IN ('confirmed', 'checked_in')",
                    (claimant_id, role), "c.id, c.demand_id, c.status, d.title, d.starts_at", "d.starts_at, c.id")


def _waiting(db: Database, tables: str, where: str, params: tuple, columns: str, order: str) -> tuple[int, list[dict]]:
    """How many rows match, and the first LIMIT of them in `order`."""
    total = db.rows(f"SELECT COUNT(*) AS n FROM {tables} WHERE {where}", params)[0]["n"]
    rows = db.rows(f"SELECT {columns} FROM {tables} WHERE {where} ORDER BY {order} LIMIT %s", (*params, LIMIT))
    return total, rows
