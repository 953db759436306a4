"""The demand board (需求大厅) and the claims of each demand."""
from functools import singledispatchmethod

from domain.claim import Claim
from domain.demand import PUBLIC_STATES, SEATED, Demand
from domain.personal import ERASED
from domain.registry import Member
from projections.db import Tx
from projections.projector import View, iso, touch

SEATED_SQL = ", ".join(f"'{s}'" for s in SEATED)


DEMAND_CARRIES = ("status", "reason", "rating", "feedback")  # the demand fields its events may change


class DemandBoard(View):
    name = "demand_board"
    tables = ("demand_board", "claims")
    ddl = (
        """CREATE TABLE IF NOT EXISTS demand_board (
            id TEXT PRIMARY KEY, organisation_id TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL,
            category TEXT NOT NULL, grid_id TEXT NOT NULL, needed INTEGER NOT NULL,
            confirmed INTEGER NOT NULL DEFAULT 0, waitlisted INTEGER NOT NULL DEFAULT 0,
            claim_deadline TEXT NOT NULL, starts_at TEXT NOT NULL, ends_at TEXT NOT NULL,
            auto_confirm BOOLEAN NOT NULL, status TEXT NOT NULL, reason TEXT, rating INTEGER, feedback TEXT,
            version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS demand_board_created ON demand_board (created_at)",  # unfiltered, text
        "CREATE INDEX IF NOT EXISTS demand_board_status ON demand_board (status, created_at)",
        "CREATE INDEX IF NOT EXISTS demand_board_grid ON demand_board (grid_id, created_at)",
        "CREATE INDEX IF NOT EXISTS demand_board_category ON demand_board (category, created_at)",
        """CREATE TABLE IF NOT EXISTS claims (
            id TEXT PRIMARY KEY, demand_id TEXT NOT NULL, owner_id TEXT NOT NULL, claimant_id TEXT NOT NULL,
            claimant_role TEXT NOT NULL, headcount INTEGER NOT NULL, note TEXT NOT NULL, status TEXT NOT NULL,
            hours REAL, rating INTEGER, reason TEXT, version INTEGER NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS claims_demand ON claims (demand_id, created_at)",
        "CREATE INDEX IF NOT EXISTS claims_claimant ON claims (claimant_id, created_at)",
    )

    def __init__(self):
        self._demand_of: dict[str, str] = {}  # claim → demand, for this batch
        self._recount: set[str] = set()  # demands whose claim counts changed in this batch

    def begin_batch(self, tx: Tx, context: str) -> None:
        self._demand_of.clear()
        self._recount.clear()

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        """Count each touched demand's claims once per batch (nothing reads the counts meanwhile)."""
        tx.executemany(
            "UPDATE demand_board SET "
            f"confirmed = (SELECT COALESCE(SUM(headcount), 0) FROM claims WHERE demand_id = %s AND status IN ({SEATED_SQL})), "
            "waitlisted = (SELECT COUNT(*) FROM claims WHERE demand_id = %s AND status = 'waitlisted') "
            "WHERE id = %s",
            [(d, d, d) for d in sorted(self._recount)])
        self._recount.clear()

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, Demand.Event):
            touch(tx, "demand_board", event, DEMAND_CARRIES)

    @apply.register
    def _(self, event: Demand.Posted, tx: Tx, context: str) -> None:
        tx.execute(
            "INSERT INTO demand_board (id, organisation_id, title, description, category, grid_id, needed, "
            "claim_deadline, starts_at, ends_at, auto_confirm, status, version, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'draft', %s, %s, %s)",
            (str(event.originator_id), event.organisation_id, event.title, event.description, event.category,
             event.grid_id, event.needed, iso(event.claim_deadline), iso(event.starts_at), iso(event.ends_at),
             event.auto_confirm, event.originator_version, iso(event.timestamp), iso(event.timestamp)),
        )

    @apply.register
    def _(self, event: Demand.Revised, tx: Tx, context: str) -> None:
        tx.execute(
            "UPDATE demand_board SET title = %s, description = %s, category = %s, needed = %s, "
            "claim_deadline = %s, starts_at = %s, ends_at = %s WHERE id = %s",
            (event.title, event.description, event.category, event.needed, iso(event.claim_deadline),
             iso(event.starts_at), iso(event.ends_at), str(event.originator_id)),
        )
        touch(tx, "demand_board", event, DEMAND_CARRIES)

    @apply.register
    def _(self, event: Demand.Approved, tx: Tx, context: str) -> None:
        touch(tx, "demand_board", event, DEMAND_CARRIES, reason=None)

    @apply.register
    def _(self, event: Claim.Made, tx: Tx, context: str) -> None:
        tx.execute(
            "INSERT INTO claims (id, demand_id, owner_id, claimant_id, claimant_role, headcount, note, status, "
            "version, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (str(event.originator_id), event.demand_id, event.owner_id, event.claimant_id, event.claimant_role,
             event.headcount, event.note, event.status, event.originator_version, iso(event.timestamp),
             iso(event.timestamp)),
        )
        self._demand_of[str(event.originator_id)] = event.demand_id
        self._recount.add(event.demand_id)

    @apply.register
    def _(self, event: Member.Erased, tx: Tx, context: str) -> None:
        """A forgotten member's notes and cancellation reasons: the events now decode as 已删除; the
        rows say so too (a reason the organisation gave for cancelling is cleared with them)."""
        member = str(event.originator_id)
        tx.execute("UPDATE claims SET note = %s WHERE claimant_role = 'member' AND claimant_id = %s "
                   "AND note <> ''", (ERASED, member))
        tx.execute("UPDATE claims SET reason = %s WHERE claimant_role = 'member' AND claimant_id = %s "
                   "AND status = 'cancelled' AND reason IS NOT NULL", (ERASED, member))

    @apply.register(Claim.Confirmed)
    @apply.register(Claim.Waitlisted)
    @apply.register(Claim.Declined)
    @apply.register(Claim.Cancelled)
    @apply.register(Claim.CheckedIn)
    @apply.register(Claim.Completed)
    @apply.register(Claim.Verified)
    @apply.register(Claim.MarkedNoShow)
    def _(self, event, tx: Tx, context: str) -> None:
        claim_id = str(event.originator_id)
        touch(tx, "claims", event, ("status", "reason", "hours", "rating"))
        if claim_id not in self._demand_of:
            self._demand_of[claim_id] = tx.rows("SELECT demand_id FROM claims WHERE id = %s", (claim_id,))[0]["demand_id"]
        self._recount.add(self._demand_of[claim_id])


def public_categories(db) -> list[str]:
    """The categories of the demands on the public board (Open311 offers one service for each)."""
    public = ", ".join(f"'{s}'" for s in PUBLIC_STATES)
    return [r["category"] for r in db.rows(
        f"SELECT DISTINCT category FROM demand_board WHERE status IN ({public}) ORDER BY category")]
