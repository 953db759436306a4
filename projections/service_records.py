"""A member's service record (志愿服务记录): verified claims and their hours."""
from functools import singledispatchmethod

from domain.claim import Claim
from projections.db import Database, Tx
from projections.projector import View, iso


class ServiceRecords(View):
    name = "service_records"
    tables = ("service_records",)
    ddl = (
        """CREATE TABLE IF NOT EXISTS service_records (
            claim_id TEXT PRIMARY KEY, member_id TEXT NOT NULL, demand_id TEXT NOT NULL,
            hours REAL, rating INTEGER, verified_at TEXT)""",
        "CREATE INDEX IF NOT EXISTS service_records_member ON service_records (member_id, verified_at)",
    )

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        """Other events do not change service records."""

    @apply.register
    def _(self, event: Claim.Made, tx: Tx, context: str) -> None:
        if event.claimant_role == "member":
            tx.execute("INSERT INTO service_records (claim_id, member_id, demand_id) VALUES (%s, %s, %s)",
                       (str(event.originator_id), event.claimant_id, event.demand_id))

    @apply.register
    def _(self, event: Claim.Completed, tx: Tx, context: str) -> None:
        tx.execute("UPDATE service_records SET hours = %s WHERE claim_id = %s",
                   (event.hours, str(event.originator_id)))

    @apply.register
    def _(self, event: Claim.Verified, tx: Tx, context: str) -> None:
        tx.execute("UPDATE service_records SET rating = %s, verified_at = %s WHERE claim_id = %s",
                   (event.rating, iso(event.timestamp), str(event.originator_id)))


def verified_of(db: Database, member_id: str) -> list[dict]:
    """A member's verified claims, oldest first."""
    return db.rows("SELECT claim_id, demand_id, hours, rating, verified_at FROM service_records "
                   "WHERE member_id = %s AND verified_at IS NOT NULL ORDER BY verified_at, claim_id", (member_id,))
