"""What awaits a party's action (the console's 待办 card), read from the tables the demand board
and the venue directory keep. Each query names only records the API already shows that party:
claims on the organisation's own demands, bookings of its own venues, the member's own claims."""
from projections.db import Database

LIMIT = 5


def claims_to_confirm(db: Database, organisation_id: str) -> tuple[int, list[dict]]:
    """Pending claims on the organisation's demands, oldest first."""
    where = "c.owner_id = %s AND c.status = 'pending'"
    total = db.rows(f"SELECT COUNT(*) AS n FROM claims c WHERE {where}", (organisation_id,))[0]["n"]
    rows = db.rows(f"SELECT c.id, c.demand_id, c.headcount, c.created_at, d.title FROM claims c "
                   f"JOIN demand_board d ON d.id = c.demand_id WHERE {where} ORDER BY c.created_at, c.id LIMIT %s",
                   (organisation_id, LIMIT))
    return total, rows


def bookings_to_approve(db: Database, organisation_id: str) -> tuple[int, list[dict]]:
    """Requested bookings of the organisation's venues, soonest first."""
    where = "b.owner_id = %s AND b.status = 'requested'"
    total = db.rows(f"SELECT COUNT(*) AS n FROM bookings b WHERE {where}", (organisation_id,))[0]["n"]
    rows = db.rows(f"SELECT b.id, b.venue_id, b.starts_at, b.ends_at, v.name FROM bookings b "
                   f"JOIN venues v ON v.id = b.venue_id WHERE {where} ORDER BY b.starts_at, b.id LIMIT %s",
                   (organisation_id, LIMIT))
    return total, rows


def claims_to_attend(db: Database, claimant_id: str, role: str) -> tuple[int, list[dict]]:
    """The claimant's confirmed and checked-in claims: to check in, then to complete."""
    where = "c.claimant_id = %s AND c.claimant_role = %s AND c.status IN ('confirmed', 'checked_in')"
    total = db.rows(f"SELECT COUNT(*) AS n FROM claims c WHERE {where}", (claimant_id, role))[0]["n"]
    rows = db.rows(f"SELECT c.id, c.demand_id, c.status, d.title, d.starts_at FROM claims c "
                   f"JOIN demand_board d ON d.id = c.demand_id WHERE {where} ORDER BY d.starts_at, c.id LIMIT %s",
                   (claimant_id, role, LIMIT))
    return total, rows
