"""The demand board (需求大厅), the claims of each demand, and the board's counts.

Each batch's changes are kept in memory and written once per row at its end (projections/rows.py).
The counts of demands by status, overall and per grid and per category, are kept as the demands
move, so a page of the board does not count every matching row for its `total`.
"""
from collections import defaultdict
from functools import singledispatchmethod

from domain.claim import Claim
from domain.demand import PUBLIC_STATES, SEATED, Demand
from domain.personal import ERASED
from domain.registry import Member
from projections.db import Database, Tx
from projections.paging import Found, Where, page
from projections.projector import View, iso, moved
from projections.rows import Rows

SEATED_SQL = ", ".join(f"'{s}'" for s in SEATED)
PUBLIC_SQL = ", ".join(f"'{s}'" for s in PUBLIC_STATES)


DEMAND_CARRIES = ("status", "reason", "rating", "feedback")  # the demand fields its events may change


class DemandBoard(View):
    name = "demand_board"
    tables = ("demand_board", "claims", "demand_board_counts")
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
        "CREATE INDEX IF NOT EXISTS demand_board_owner ON demand_board (organisation_id, status)",
        """CREATE TABLE IF NOT EXISTS claims (
            id TEXT PRIMARY KEY, demand_id TEXT NOT NULL, owner_id TEXT NOT NULL, claimant_id TEXT NOT NULL,
            claimant_role TEXT NOT NULL, headcount INTEGER NOT NULL, note TEXT NOT NULL, status TEXT NOT NULL,
            hours REAL, rating INTEGER, reason TEXT, version INTEGER NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS claims_demand ON claims (demand_id, created_at)",
        "CREATE INDEX IF NOT EXISTS claims_claimant ON claims (claimant_id, created_at)",
        # demands by status: dimension '' (key '') for all, 'grid' and 'category' by their key
        """CREATE TABLE IF NOT EXISTS demand_board_counts (
            dimension TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (dimension, key, status))""",
    )

    def __init__(self):
        self.board, self.claims = Rows("demand_board"), Rows("claims")
        self._recount: set[str] = set()  # demands whose claim counts changed in this batch
        self._counts: defaultdict[tuple[str, str, str], int] = defaultdict(int)

    def begin_batch(self, tx: Tx, context: str) -> None:
        self.board.clear()
        self.claims.clear()
        self._recount.clear()
        self._counts.clear()

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        """Write the batch's rows, then count each touched demand's claims once (nothing reads the
        counts meanwhile), and move the board's counts."""
        self.claims.flush(tx)
        self.board.flush(tx)
        tx.executemany(
            "UPDATE demand_board SET "
            f"confirmed = (SELECT COALESCE(SUM(headcount), 0) FROM claims WHERE demand_id = %s AND status IN ({SEATED_SQL})), "
            "waitlisted = (SELECT COUNT(*) FROM claims WHERE demand_id = %s AND status = 'waitlisted') "
            "WHERE id = %s",
            [(d, d, d) for d in sorted(self._recount)])
        tx.executemany("INSERT INTO demand_board_counts (dimension, key, status, n) VALUES (%s, %s, %s, %s) "
                       "ON CONFLICT (dimension, key, status) DO UPDATE SET n = demand_board_counts.n + excluded.n",
                       [(*k, n) for k, n in sorted(self._counts.items()) if n])
        tx.executemany("DELETE FROM demand_board_counts WHERE dimension = %s AND key = %s AND status = %s AND n = 0",
                       [k for k, n in sorted(self._counts.items()) if n < 0])  # no status left: no row, as in a rebuild
        self._recount.clear()
        self._counts.clear()

    def _count(self, row: tuple[str, str, str], sign: int) -> None:
        status, grid, category = row
        for dimension, key in (("", ""), ("grid", grid), ("category", category)):
            self._counts[(dimension, key, status)] += sign

    def _move(self, tx: Tx, event, **changes) -> None:
        """Move a demand's row to this event, and its place in the counts with it."""
        demand_id = str(event.originator_id)
        before = tuple(self.board.value(tx, demand_id, c) for c in ("status", "grid_id", "category"))
        self.board.update(demand_id, **moved(event, DEMAND_CARRIES, **changes))
        after = tuple(self.board.value(tx, demand_id, c) for c in ("status", "grid_id", "category"))
        if after != before:
            self._count(before, -1)
            self._count(after, +1)

    @singledispatchmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        if isinstance(event, Demand.Event):
            self._move(tx, event)

    @apply.register
    def _(self, event: Demand.Posted, tx: Tx, context: str) -> None:
        self.board.insert(
            str(event.originator_id), organisation_id=event.organisation_id, title=event.title,
            description=event.description, category=event.category, grid_id=event.grid_id, needed=event.needed,
            claim_deadline=iso(event.claim_deadline), starts_at=iso(event.starts_at), ends_at=iso(event.ends_at),
            auto_confirm=event.auto_confirm, status="draft", version=event.originator_version,
            created_at=iso(event.timestamp), updated_at=iso(event.timestamp))
        self._count(("draft", event.grid_id, event.category), +1)

    @apply.register
    def _(self, event: Demand.Revised, tx: Tx, context: str) -> None:
        self._move(tx, event, title=event.title, description=event.description, category=event.category,
                   needed=event.needed, claim_deadline=iso(event.claim_deadline), starts_at=iso(event.starts_at),
                   ends_at=iso(event.ends_at))

    @apply.register
    def _(self, event: Demand.Approved, tx: Tx, context: str) -> None:
        self._move(tx, event, reason=None)

    @apply.register
    def _(self, event: Claim.Made, tx: Tx, context: str) -> None:
        self.claims.insert(
            str(event.originator_id), demand_id=event.demand_id, owner_id=event.owner_id,
            claimant_id=event.claimant_id, claimant_role=event.claimant_role, headcount=event.headcount,
            note=event.note, status=event.status, version=event.originator_version,
            created_at=iso(event.timestamp), updated_at=iso(event.timestamp))
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
        self.claims.update(claim_id, **moved(event, ("status", "reason", "hours", "rating")))
        self._recount.add(self.claims.value(tx, claim_id, "demand_id"))


def board_total(db: Database, status: str | None, grid: str | None, category: str | None, public_only: bool,
                own: str) -> int | None:
    """How many demands the board lists for these filters, from the kept counts; None when the
    counts cannot say (grid and category together, or a text search): then count the rows.
    `public_only`: the caller sees public demands, and `own` organisation's in any status."""
    if grid is not None and category is not None:
        return None
    dimension, key = ("grid", grid) if grid is not None else ("category", category) if category is not None else ("", "")
    where, params = ["dimension = %s", "key = %s"], [dimension, key]
    if status is not None:
        where.append("status = %s")
        params.append(status)
    if public_only:
        where.append(f"status IN ({PUBLIC_SQL})")
    total = db.rows(f"SELECT COALESCE(SUM(n), 0) AS n FROM demand_board_counts WHERE {' AND '.join(where)}",
                    params)[0]["n"]
    if public_only and own and (status is None or status not in PUBLIC_STATES):
        where, params = ["organisation_id = %s", f"status NOT IN ({PUBLIC_SQL})"], [own]
        for column, value in (("status", status), ("grid_id", grid), ("category", category)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(value)
        total += db.rows(f"SELECT COUNT(*) AS n FROM demand_board WHERE {' AND '.join(where)}", params)[0]["n"]
    return int(total)


class BoardQueries:
    """What the demands application reads from the board and the claims."""

    def __init__(self, db: Database):
        self.db = db

    def search(self, status: str | None, grid: str | None, category: str | None, q: str | None,
               own: str | None, number: int, size: int) -> Found:
        """`own`: None for every demand; else the public ones and those of that organisation."""
        where = Where().equal((("status", status), ("grid_id", grid), ("category", category)))
        if q:
            where.add("(title LIKE %s OR description LIKE %s)", f"%{q}%", f"%{q}%")
        if own is not None:
            where.add(f"(status IN ({PUBLIC_SQL}) OR organisation_id = %s)", own)
        total = None if q else board_total(self.db, status, grid, category, own is not None, own or "")
        return page(self.db, "demand_board", where, "created_at DESC, id", number, size, total)

    def claims(self, demand_id: str, claimant: tuple[str, str] | None, number: int, size: int) -> Found:
        """A demand's claims; only those of `claimant` (id, role) when given."""
        where = Where().add("demand_id = %s", demand_id)
        if claimant is not None:
            where.add("(claimant_id = %s AND claimant_role = %s)", *claimant)
        return page(self.db, "claims", where, "created_at, id", number, size)


def public_categories(db) -> list[str]:
    """The categories of the demands on the public board (Open311 offers one service for each)."""
    return [r["category"] for r in db.rows(
        f"SELECT DISTINCT category FROM demand_board WHERE status IN ({PUBLIC_SQL}) ORDER BY category")]
