"""A projection worker for PostgreSQL: catches up, then follows new events.

It LISTENs on each context's channel (the library NOTIFYs after every insert) and also polls,
so a lost notification costs at most one poll interval. Several workers may run at once: each
view has one leader at a time (a session advisory lock held on the LISTEN connection, so a
dead leader's lock goes with its connection and another worker takes over within a poll),
and every batch is applied under the view's transaction lock besides, so no event is ever
applied twice. When the database goes away the worker reconnects by itself.
"""
import logging
import threading
import time

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg import sql
from psycopg_pool import PoolTimeout

from projections.projector import Projector

log = logging.getLogger("linli.projections")
DOWN = (psycopg.OperationalError, psycopg.InterfaceError, PersistenceError, PoolTimeout)


class ProjectionWorker:
    def __init__(self, projector: Projector, names: list[str] | None = None, poll_seconds: float = 1.0):
        self.projector, self.poll = projector, poll_seconds
        self.views = [v for v in projector.views if names is None or v.name in names]
        self.channels = [app.recorder.channel_name for app in projector.sources.values()]
        self.leading: list = []

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._follow(stop)
            except DOWN as error:
                self.leading = []
                log.warning("database unavailable (%s); reconnecting", error)
                stop.wait(self.poll)

    def _follow(self, stop: threading.Event) -> None:
        with self.projector.db.session() as conn:  # one of the process's budget, held while following
            for channel in self.channels:
                conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            while not stop.is_set():
                self._take_leadership(conn)
                if self.leading:
                    self.projector.catch_up(self.leading)
                for _ in conn.notifies(timeout=self.poll, stop_after=1):
                    pass

    def _take_leadership(self, conn) -> None:
        for view in self.views:
            if view not in self.leading:
                name = f"leader:{self.projector.db.schema}:{view.name}"
                row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s)) AS got", (name,)).fetchone()
                if row["got"]:
                    log.info("leading %s", view.name)
                    self.leading.append(view)


def lag_seconds(projector: Projector) -> dict[str, dict[str, float]]:
    """How old the oldest event each view has not applied yet is, per context (0 when caught up)."""
    now, found = time.time(), {}
    positions = projector.positions()
    for view, contexts in positions.items():
        found[view] = {}
        for context, position in contexts.items():
            app = projector.sources[context]
            pending = app.recorder.select_notifications(position + 1, 1)
            age = 0.0
            if pending:
                age = max(0.0, now - app.mapper.to_domain_event(pending[0]).timestamp.timestamp())
            found[view][context] = round(age, 3)
    return found
