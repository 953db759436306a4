"""Feeds read models from the contexts' notification logs, exactly once.

Each read model records, per context log, the last position it has applied, in the same
transaction as the rows it writes. A catch-up takes the read model's lock (advisory lock on
PostgreSQL, the writer lock on SQLite), reads the log after the recorded position and
applies what it finds, so concurrent catch-ups (API threads, worker processes) never apply
an event twice or skip one. Positions can have gaps (rolled-back inserts); we only ever ask
for "after the last applied position", so gaps cost nothing.
"""
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from eventsourcing.application import Application

from projections.db import Database, Tx

BATCH = 500


def iso(value: datetime | None) -> str | None:
    """Datetimes are stored as UTC ISO strings so they sort and compare alike on both backends."""
    return None if value is None else value.astimezone(UTC).isoformat()


def touch(tx: Tx, table: str, event, carried: tuple[str, ...] = ("status",), **changes) -> None:
    """Move an aggregate's row to this event: its version and updated_at, the `carried` fields the
    event has (status, reason, ...), and any other `changes`."""
    values = {"version": event.originator_version, "updated_at": iso(event.timestamp), **changes}
    values.update({name: vars(event)[name] for name in carried if name in vars(event)})
    sets = ", ".join(f"{column} = %s" for column in values)
    tx.execute(f"UPDATE {table} SET {sets} WHERE id = %s", (*values.values(), str(event.originator_id)))


class View(ABC):
    """A read model: its tables, and how each event changes them."""

    name: str = ""
    tables: Sequence[str] = ()
    ddl: Sequence[str] = ()
    rebuilt_by_default = True  # the audit chain is evidence: it is rebuilt only when named

    @abstractmethod
    def apply(self, event, tx: Tx, context: str) -> None:
        """Change this view's rows for one event (ignore events it does not follow)."""

    def record(self, notification, event, tx: Tx, context: str) -> None:
        """Views that need the stored form (position, topic, bytes) override this."""
        self.apply(event, tx, context)

    def begin_batch(self, tx: Tx, context: str) -> None:
        """Called before each batch, in the batch's transaction (views may cache what it reads)."""

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        """Called once after each batch, in the batch's transaction."""

    def create(self, tx: Tx) -> None:
        for statement in self.ddl:
            tx.execute(statement)

    def drop(self, tx: Tx) -> None:
        for table in self.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table}")


TRACKING_DDL = """CREATE TABLE IF NOT EXISTS tracking (
    view TEXT NOT NULL, context TEXT NOT NULL, position BIGINT NOT NULL,
    PRIMARY KEY (view, context))"""


class Projector:
    def __init__(self, db: Database, sources: Mapping[str, Application], views: Sequence[View]):
        self.db, self.sources, self.views = db, dict(sources), list(views)
        with db.transaction() as tx:
            tx.execute(TRACKING_DDL)
        for view in self.views:  # one view at a time, under its lock: a running catch-up holds it
            with db.transaction() as tx:
                tx.lock(f"view:{view.name}")
                view.create(tx)

    def view(self, name: str) -> View:
        return next(v for v in self.views if v.name == name)

    def catch_up(self, views: Sequence[View] | None = None) -> int:
        """Apply every event not yet applied, for each view and context; returns how many
        events were read. Each batch is read and decoded once, then applied view by view."""
        views, read = list(views or self.views), 0
        for context in self.sources:
            while True:
                behind = self.positions_of(views, context)
                start = min(behind.values()) + 1
                notifications = self.sources[context].recorder.select_notifications(start, BATCH)
                if not notifications:
                    break
                decoded = [(n, self.sources[context].mapper.to_domain_event(n)) for n in notifications]
                for view in views:
                    if behind[view.name] < notifications[-1].id:
                        self._apply(view, context, start, decoded)
                read += len(notifications)
        return read

    def positions_of(self, views: Sequence[View], context: str) -> dict[str, int]:
        rows = self.db.rows("SELECT view, position FROM tracking WHERE context = %s", (context,))
        found = {r["view"]: r["position"] for r in rows}
        return {v.name: found.get(v.name, 0) for v in views}

    def _apply(self, view: View, context: str, start: int, decoded: list) -> None:
        """Apply what this view has not yet seen of a batch read from `start`, under its lock. A
        rebuild may have switched in a model that is further behind than the one the batch was read
        for: then the batch leaves a gap, and the caller's next round reads from the new position."""
        with self.db.transaction(pipeline=True) as tx:
            tx.lock(f"view:{view.name}")
            position = self._position(tx, view.name, context)
            if position < start - 1:
                return
            fresh = [(n, e) for n, e in decoded if n.id > position]
            if not fresh:
                return
            view.begin_batch(tx, context)
            for notification, event in fresh:
                view.record(notification, event, tx, context)
            view.finish_batch(tx, context, fresh[-1][0].id)
            self._record(tx, view.name, context, fresh[-1][0].id)

    def _batch(self, tx: Tx, view: View, context: str) -> int:
        """Apply the next batch of one context's log to one view, inside the caller's transaction."""
        app = self.sources[context]
        position = self._position(tx, view.name, context)
        notifications = app.recorder.select_notifications(position + 1, BATCH)
        if notifications:
            view.begin_batch(tx, context)
        for notification in notifications:
            view.record(notification, app.mapper.to_domain_event(notification), tx, context)
        if notifications:
            view.finish_batch(tx, context, notifications[-1].id)
            self._record(tx, view.name, context, notifications[-1].id)
        return len(notifications)

    def positions(self) -> dict[str, dict[str, int]]:
        rows = self.db.rows("SELECT view, context, position FROM tracking")
        found = {(r["view"], r["context"]): r["position"] for r in rows}
        return {v.name: {c: found.get((v.name, c), 0) for c in self.sources} for v in self.views}

    def heads(self) -> dict[str, int]:
        return {c: app.recorder.max_notification_id() or 0 for c, app in self.sources.items()}

    def rebuild(self, views: Sequence[View] | None = None) -> int:
        """Build the views again from every event, beside the live ones, and switch atomically:
        readers see the old rows or the new, never a half-built model. Returns the events read."""
        views = list(views or [v for v in self.views if v.rebuilt_by_default])
        if self.db.dialect == "postgres":
            return self._rebuild_beside(views)
        read = 0
        with self.db.transaction() as tx:  # SQLite: one transaction; WAL readers keep the old rows until commit
            for view in views:
                view.drop(tx)
                view.create(tx)
                tx.execute("DELETE FROM tracking WHERE view = %s", (view.name,))
                applied = 0
                for context in self.sources:
                    while (n := self._batch(tx, view, context)) > 0:
                        applied += n
                read = max(read, applied)
        return read

    def _rebuild_beside(self, views: list[View]) -> int:
        """PostgreSQL: build every named view in one scratch schema (each batch read and decoded
        once for all of them), then move the tables in under the views' locks, in one transaction."""
        main = self.db.schema
        scratch = f"{main}_rebuild"
        names = [v.name for v in views]
        with self.db.shadow(scratch) as shadow_db:
            scratch_projector = Projector(shadow_db, self.sources, views)
            applied = scratch_projector.catch_up()
            scratch_projector.compact()  # before anyone reads them
            with self.db.transaction() as tx:
                for view in sorted(views, key=lambda v: v.name):  # one order everywhere: no deadlock
                    tx.lock(f"view:{view.name}")
                for table in (t for view in views for t in view.tables):
                    tx.execute(f'DROP TABLE IF EXISTS "{main}"."{table}"')
                    tx.execute(f'ALTER TABLE "{scratch}"."{table}" SET SCHEMA "{main}"')
                tx.execute(f'DELETE FROM "{main}".tracking WHERE view = ANY(%s)', (names,))
                tx.execute(f'INSERT INTO "{main}".tracking SELECT * FROM "{scratch}".tracking WHERE view = ANY(%s)',
                           (names,))
        return applied + self.catch_up(views)

    def compact(self) -> None:
        """After building read models in bulk (a seed, a rebuild): every row was rewritten many
        times on the way (a demand's once per claim event), so the tables are mostly dead row
        versions that autovacuum (off on CI) has not reclaimed, and no planner statistics exist.
        Measured at fuzhou scale: the demand board took 146 MB for 20,006 rows (8.4 MB rewritten),
        and counting a text search's matches 73 ms (6 ms). PostgreSQL: VACUUM FULL ANALYZE; SQLite:
        ANALYZE."""
        self.db.vacuum([t for view in self.views for t in view.tables], full=True)

    @staticmethod
    def _position(tx: Tx, view: str, context: str) -> int:
        rows = tx.rows("SELECT position FROM tracking WHERE view = %s AND context = %s", (view, context))
        return rows[0]["position"] if rows else 0

    @staticmethod
    def _record(tx: Tx, view: str, context: str, position: int) -> None:
        tx.execute(
            "INSERT INTO tracking (view, context, position) VALUES (%s, %s, %s) "
            "ON CONFLICT (view, context) DO UPDATE SET position = excluded.position",
            (view, context, position),
        )
