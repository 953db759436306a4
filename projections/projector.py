"""Feeds read models from the contexts' notification logs, exactly once.

Each read model records, per context log, the last position it has applied, in the same
transaction as the rows it writes. A catch-up takes the read model's lock (advisory lock on
PostgreSQL, the writer lock on SQLite), reads the log after the recorded position and
applies what it finds, so concurrent catch-ups (API threads, worker processes) never apply
an event twice or skip one. Positions can have gaps (rolled-back inserts); we only ever ask
for "after the last applied position", so gaps cost nothing.

A view that cannot apply an event stops on that context's log alone, just before the event,
and says so (`projection_stops`: the view, the event, the error): every other view, and every
command, carries on. Stopping rather than skipping the event keeps the view true as of a
position; `retry` resumes it once the cause is fixed.
"""
import logging
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from eventsourcing.application import Application
from psycopg_pool import PoolTimeout

from projections.db import Database, Tx

log = logging.getLogger("linli.projections")
BATCH = 500
BULK_BATCH = 5_000  # read models built in bulk: fewer, larger transactions (a rebuild, a seed)


def iso(value: datetime | None) -> str | None:
    """Datetimes are stored as UTC ISO strings so they sort and compare alike on both backends."""
    return None if value is None else value.astimezone(UTC).isoformat()


def moved(event, carried: tuple[str, ...] = ("status",), **changes) -> dict:
    """What moving an aggregate's row to this event sets: its version and updated_at, the `carried`
    fields the event has (status, reason, ...), and any other `changes`."""
    values = {"version": event.originator_version, "updated_at": iso(event.timestamp), **changes}
    values.update({name: vars(event)[name] for name in carried if name in vars(event)})
    return values


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

    def committed(self, context: str) -> None:
        """Called once a live batch's transaction has committed (for what must not outlive a rollback)."""

    def migrate(self, db: Database, tx: Tx) -> None:
        """Bring tables made by an older release up to date, before `create` (most views need nothing)."""

    def create(self, tx: Tx) -> None:
        for statement in self.ddl:
            tx.execute(statement)

    def drop(self, tx: Tx) -> None:
        for table in self.tables:
            tx.execute(f"DROP TABLE IF EXISTS {table}")


TRACKING_DDL = """CREATE TABLE IF NOT EXISTS tracking (
    view TEXT NOT NULL, context TEXT NOT NULL, position BIGINT NOT NULL,
    PRIMARY KEY (view, context))"""
STOPS_DDL = """CREATE TABLE IF NOT EXISTS projection_stops (
    view TEXT NOT NULL, context TEXT NOT NULL, position BIGINT NOT NULL, event_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL, version BIGINT NOT NULL, error TEXT NOT NULL, stopped_at TEXT NOT NULL,
    PRIMARY KEY (view, context))"""
# The database being away or busy is nobody's event: those errors propagate and the next catch-up
# tries again. Anything else raised while applying an event is that event's, for that view.
TRANSIENT = (sqlite3.OperationalError, psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


@dataclass(frozen=True)
class Stop:
    """Where a view stopped: the event at `position` of `context`'s log is the one it could not apply."""

    view: str
    context: str
    position: int
    event_type: str
    aggregate_id: str
    version: int
    error: str
    stopped_at: str


class ViewStoppedError(Exception):
    """A rebuild met an event a view cannot apply; the live read models were left as they were."""

    def __init__(self, stop: Stop):
        super().__init__(f"{stop.view} cannot apply {stop.context} position {stop.position} ({stop.event_type}): "
                         f"{stop.error}")
        self.stop = stop


@dataclass(frozen=True)
class Undecodable:
    """A stored event this code cannot turn back into a domain event: each view stops at it."""

    error: Exception


def _stop(view: View, context: str, notification, error: Exception) -> Stop:
    return Stop(view.name, context, notification.id, notification.topic, str(notification.originator_id),
                notification.originator_version, f"{type(error).__name__}: {error}"[:500],
                datetime.now(UTC).isoformat())


class Projector:
    def __init__(self, db: Database, sources: Mapping[str, Application], views: Sequence[View],
                 create: bool = True):
        """`create`: make the tables that are missing (a process that may not, the API role, does not)."""
        self.db, self.sources, self.views = db, dict(sources), list(views)
        if not create:
            return
        with db.transaction() as tx:
            tx.execute(TRACKING_DDL)
            tx.execute(STOPS_DDL)
        for view in self.views:  # one view at a time, under its lock: a running catch-up holds it
            with db.transaction() as tx:
                tx.lock(f"view:{view.name}")
                view.migrate(db, tx)
                view.create(tx)

    def view(self, name: str) -> View:
        return next(v for v in self.views if v.name == name)

    def catch_up(self, views: Sequence[View] | None = None, bulk: bool = False) -> int:
        """Apply every event not yet applied, for each running view and context; returns how many
        events were read. Each batch is read and decoded once, then applied view by view. `bulk`:
        many events are expected (a rebuild, after a seed): larger batches, commits that do not
        wait for the disk (projections/db.py)."""
        views, read, size = list(views or self.views), 0, BULK_BATCH if bulk else BATCH
        for context in self.sources:
            while True:
                behind = self.positions_of(views, context)
                if not behind:
                    break
                start = min(behind.values()) + 1
                notifications = self.sources[context].recorder.select_notifications(start, size)
                if not notifications:
                    break
                decoded = [(n, self._decode(context, n)) for n in notifications]
                for view in views:
                    if view.name in behind and behind[view.name] < notifications[-1].id:
                        self._apply(view, context, start, decoded, bulk)
                read += len(notifications)
        return read

    def positions_of(self, views: Sequence[View], context: str) -> dict[str, int]:
        """Where each of `views` that is not stopped on this context's log stands in it."""
        rows = self.db.rows("SELECT view, position, 0 AS stopped FROM tracking WHERE context = %s UNION ALL "
                            "SELECT view, position, 1 AS stopped FROM projection_stops WHERE context = %s",
                            (context, context))
        found = {r["view"]: r["position"] for r in rows if not r["stopped"]}
        stopped = {r["view"] for r in rows if r["stopped"]}
        return {v.name: found.get(v.name, 0) for v in views if v.name not in stopped}

    def _decode(self, context: str, notification):
        try:
            return self.sources[context].mapper.to_domain_event(notification)
        except Exception as error:  # noqa: BLE001 - each view stops at it, named
            return Undecodable(error)

    @staticmethod
    def _record_event(view: View, notification, event, tx: Tx, context: str) -> None:
        if isinstance(event, Undecodable):
            raise event.error
        view.record(notification, event, tx, context)

    def _apply(self, view: View, context: str, start: int, decoded: list, bulk: bool = False) -> None:
        """Apply a batch to one view; when the view fails on it, find the event it cannot apply."""
        try:
            self._apply_batch(view, context, start, decoded, bulk)
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 - isolated below, event by event
            self._isolate(view, context, start, decoded)

    def _apply_batch(self, view: View, context: str, start: int, decoded: list, bulk: bool = False) -> None:
        """Apply what this view has not yet seen of a batch read from `start`, under its lock. A
        rebuild may have switched in a model that is further behind than the one the batch was read
        for: then the batch leaves a gap, and the caller's next round reads from the new position."""
        with self.db.transaction(pipeline=True, bulk=bulk) as tx:
            tx.lock(f"view:{view.name}")
            position = self._position(tx, view.name, context)
            if position < start - 1:
                return
            fresh = [(n, e) for n, e in decoded if n.id > position]
            if not fresh:
                return
            view.begin_batch(tx, context)
            for notification, event in fresh:
                self._record_event(view, notification, event, tx, context)
            view.finish_batch(tx, context, fresh[-1][0].id)
            self._record(tx, view.name, context, fresh[-1][0].id)
        view.committed(context)

    def _isolate(self, view: View, context: str, start: int, decoded: list) -> None:
        """Apply a failed batch one event per transaction (pipelined statements report errors late,
        so only this names the event): the view keeps every event before the one it cannot apply,
        and stops there."""
        for notification, event in decoded:
            try:
                self._apply_batch(view, context, start, [(notification, event)])
            except TRANSIENT:
                raise
            except Exception as error:  # noqa: BLE001 - this view cannot apply this event
                self._stop_at(_stop(view, context, notification, error))
                return
            start = notification.id + 1

    def _stop_at(self, stop: Stop) -> None:
        log.error("read model %s stopped at %s position %s (%s): %s", stop.view, stop.context, stop.position,
                  stop.event_type, stop.error)
        with self.db.transaction() as tx:
            tx.lock(f"view:{stop.view}")
            if self._position(tx, stop.view, stop.context) < stop.position:
                tx.execute("INSERT INTO projection_stops (view, context, position, event_type, aggregate_id, version, "
                           "error, stopped_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                           "ON CONFLICT (view, context) DO NOTHING", tuple(vars(stop).values()))

    def stops(self) -> list[Stop]:
        """The views that stopped, each at the event it could not apply."""
        return [Stop(**row) for row in self.db.rows("SELECT view, context, position, event_type, aggregate_id, "
                                                     "version, error, stopped_at FROM projection_stops "
                                                     "ORDER BY view, context")]

    def retry(self, views: Sequence[View] | None = None) -> list[Stop]:
        """After a fix: forget the views' stops and catch them up. Returns the stops that remain
        (a view that still cannot apply its event stops at it again)."""
        with self.db.transaction() as tx:
            for view in views or self.views:
                tx.execute("DELETE FROM projection_stops WHERE view = %s", (view.name,))
        self.catch_up(views)
        return self.stops()

    def _rebuild_batch(self, tx: Tx, views: Sequence[View], context: str, notifications: list) -> None:
        """Apply one batch of a context's log, read and decoded once, to each view being rebuilt,
        inside the rebuild's transaction; an event a view cannot apply ends the rebuild, named."""
        decoded = [(n, self._decode(context, n)) for n in notifications]
        for view in views:
            view.begin_batch(tx, context)
            for notification, event in decoded:
                try:
                    self._record_event(view, notification, event, tx, context)
                except TRANSIENT:
                    raise
                except Exception as error:
                    raise ViewStoppedError(_stop(view, context, notification, error)) from error
            view.finish_batch(tx, context, notifications[-1].id)
            self._record(tx, view.name, context, notifications[-1].id)

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
                tx.execute("DELETE FROM projection_stops WHERE view = %s", (view.name,))
            for context, app in self.sources.items():  # the log read once for all the views
                position = 0
                while notifications := app.recorder.select_notifications(position + 1, BULK_BATCH):
                    self._rebuild_batch(tx, views, context, notifications)
                    read, position = read + len(notifications), notifications[-1].id
        return read

    def _rebuild_beside(self, views: list[View]) -> int:
        """PostgreSQL: build every named view in one scratch schema (each batch read and decoded
        once for all of them), then move the tables in under the views' locks, in one transaction."""
        main = self.db.schema
        scratch = f"{main}_rebuild"
        names = [v.name for v in views]
        with self.db.shadow(scratch) as shadow_db:
            scratch_projector = Projector(shadow_db, self.sources, views)
            applied = scratch_projector.catch_up(bulk=True)
            stopped = scratch_projector.stops()
            if stopped:  # the live models stay as they were
                raise ViewStoppedError(stopped[0])
            scratch_projector.compact()  # before anyone reads them
            with self.db.transaction() as tx:
                for view in sorted(views, key=lambda v: v.name):  # one order everywhere: no deadlock
                    tx.lock(f"view:{view.name}")
                for table in (t for view in views for t in view.tables):
                    tx.execute(f'DROP TABLE IF EXISTS "{main}"."{table}"')
                    tx.execute(f'ALTER TABLE "{scratch}"."{table}" SET SCHEMA "{main}"')
                tx.execute(f'DELETE FROM "{main}".tracking WHERE view = ANY(%s)', (names,))
                tx.execute(f'DELETE FROM "{main}".projection_stops WHERE view = ANY(%s)', (names,))
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
