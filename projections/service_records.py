"""A member's service record (志愿服务记录): verified claims and their hours."""
from functools import singledispatchmethod

from domain.claim import Claim
from projections.db import Database, Tx
from projections.projector import View, iso
from projections.rows import Rows


class ServiceRecords(View):
    name = "service_records"
    tables = ("service_records",)
    ddl = (
        """CREATE TABLE IF NOT EXISTS service_records (
            claim_id TEXT PRIMARY KEY, member_id TEXT NOT NULL, demand_id TEXT NOT NULL,
            hours REAL, rating INTEGER, verified_at TEXT)""",
        "CREATE INDEX IF NOT EXISTS service_records_member ON service_records (member_id, verified_at)",
    )

    def __init__(self):
        self.records = Rows("service_records", ("claim_id",))  # written once per batch

    def begin_batch(self, tx: Tx, context: str) -> None:
        self.records.clear()

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        self.records.flush(tx)

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        """Other events do not change service records."""

    @apply.register
    def _(self, event: Claim.Made, tx: Tx, context: str) -> None:
        if event.claimant_role == "member":
            self.records.insert(str(event.originator_id), member_id=event.claimant_id, demand_id=event.demand_id)

    @apply.register
    def _(self, event: Claim.Completed, tx: Tx, context: str) -> None:
        self.records.update(str(event.originator_id), hours=event.hours)

    @apply.register
    def _(self, event: Claim.Verified, tx: Tx, context: str) -> None:
        self.records.update(str(event.originator_id), rating=event.rating, verified_at=iso(event.timestamp))


def verified_of(db: Database, member_id: str) -> list[dict]:
    """A member's verified claims, oldest first."""
    return db.rows("SELECT claim_id, demand_id, hours, rating, verified_at FROM service_records "
                   "WHERE member_id = %s AND verified_at IS NOT NULL ORDER BY verified_at, claim_id", (member_id,))
