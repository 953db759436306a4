"""Builds the running system from settings: the context applications, the read-model store,
the projector, the timers. Nothing here runs at import time; the app factory, the CLI and
the tests each build one `Linli`."""
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import unquote, urlparse

import psycopg
from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from api.auth import TokenStore
from api.idempotency import IdempotencyStore
from api.settings import Settings
from projections.audit import AuditIndex
from projections.chain import AuditChain
from projections.db import Database, PostgresDatabase, SqliteDatabase, open_pool
from projections.deadlines import Deadlines, DueDeadlines
from projections.demand_board import BoardQueries, DemandBoard
from projections.open311 import Open311Feed
from projections.people import KeyStore, install
from projections.projector import Projector
from projections.service_records import ServiceRecords, verified_of
from projections.services import ServiceCatalogue, ServiceQueries
from projections.stats import Stats
from projections.venues import VenueDirectory, VenueQueries
from workflows.after_commit import AfterCommit
from workflows.clock import Clock, SystemClock
from workflows.demands import Demands
from workflows.registry import Registry
from workflows.services import Services
from workflows.timers import Timers
from workflows.venues import Venues


# Each process keeps recently used aggregates and, on every load, reads only the events stored
# after the cached version (the library's fast-forward), so a demand with many claims is not
# replayed for each command; a fast-forward replaces the cached object (workflows/context.py), and
# commands get a copy. 5,000 aggregates stay well inside the memory budget (docs/performance.md).
CACHE = {"AGGREGATE_CACHE_MAXSIZE": "5000", "AGGREGATE_CACHE_FASTFORWARD": "y"}


def event_store_env(settings: Settings, context: str) -> dict[str, str]:
    if not settings.postgres:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(settings.data_dir / f"{context}.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30", **CACHE}
    url = urlparse(settings.database_url)
    return {
        **CACHE,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
        "POSTGRES_HOST": url.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": settings.database_schema,
        "CREATE_TABLE": "n",  # created once the store has the process's pool (share_pool)
    }


def share_pool(app: Application, pool: ConnectionPool, create_tables: bool = True) -> None:
    """Point a context's event store at the process's one pool (the library built a pool of its
    own from the env above, which is never opened), then create the context's tables unless the
    store is only read (verification)."""
    app.recorder.datastore.pool = pool
    if create_tables:
        app.recorder.create_table()
        if app.snapshots is not None:
            app.snapshots.recorder.create_table()


def protect_people(contexts: dict[str, Application], people: KeyStore) -> None:
    """Seal personal fields under their person's key, and drop cached aggregates once someone is
    erased (in this process at once, in others within a second: see KeyStore.refresh)."""
    def forget_cached() -> None:
        for app in contexts.values():
            app.forget_cached()

    people.on_erasure(forget_cached)
    for app in contexts.values():
        install(app, people)
        app.repository.before_get = people.refresh


def open_database(settings: Settings) -> Database:
    if not settings.postgres:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return SqliteDatabase(settings.data_dir / "views.sqlite")
    return PostgresDatabase(open_pool(settings.database_url, settings.database_schema, settings.pool_size),
                            settings.database_schema)


class Linli:
    """Everything one process needs, built once per process."""

    def __init__(self, settings: Settings, clock: Clock | None = None):
        self.settings, self.clock = settings, clock or SystemClock()
        grace = timedelta(minutes=settings.grace_minutes)
        self.db = open_database(settings)
        self.audit_key = settings.audit_keys()
        try:
            with self._startup_lock():
                self.registry = Registry(env=event_store_env(settings, "registry"), clock=self.clock)
                self.demands = Demands(env=event_store_env(settings, "demands"), clock=self.clock,
                                       grace=grace, registry=self.registry)
                self.venues = Venues(env=event_store_env(settings, "venues"), clock=self.clock, grace=grace,
                                     registry=self.registry)
                self.services = Services(env=event_store_env(settings, "services"), clock=self.clock,
                                         registry=self.registry)
                self.contexts: dict[str, Application] = {"registry": self.registry, "demands": self.demands,
                                                         "venues": self.venues, "services": self.services}
                if settings.postgres:
                    for app in self.contexts.values():
                        share_pool(app, self.db.pool, create_tables=self.migrating)
                self.people = KeyStore(self.db, create=self.migrating)
                protect_people(self.contexts, self.people)
                self.projector = Projector(self.db, self.contexts, [
                    DemandBoard(), ServiceRecords(), VenueDirectory(), ServiceCatalogue(), Stats(),
                    Deadlines(grace), AuditIndex(), AuditChain(self.audit_key), Open311Feed()],
                    create=self.migrating)
                if settings.postgres and self.migrating:
                    self._protect_history(settings.database_schema)
                self.tokens = TokenStore(self.db, create=self.migrating)
                self.idempotency = IdempotencyStore(self.db, create=self.migrating)
        except BaseException:
            self.db.close()  # a process that could not start keeps no connection open
            raise
        self._install_queries()
        self.after_commit = AfterCommit(self.project)
        for app in self.contexts.values():
            app.engine.after_commit = self.after_commit
        self.timers = Timers({"demands": self.demands, "venues": self.venues, "services": self.services},
                             DueDeadlines(self.db), self.clock, self.after_commit)

    def _install_queries(self) -> None:
        """Each application answers its queries from the read models next to their DDL."""
        self.demands.queries = BoardQueries(self.db)
        self.venues.queries = VenueQueries(self.db)
        self.services.queries = ServiceQueries(self.db)
        self.registry.verified_claims = lambda member_id: verified_of(self.db, member_id)

    @contextmanager
    def _startup_lock(self) -> Iterator[None]:
        """Processes starting together (uvicorn workers, a projection worker) would race on
        CREATE SCHEMA, the library's CREATE OR REPLACE FUNCTION and our tables; on PostgreSQL they
        take turns, and the first creates the schema. Only a process that may migrate (`migrating`:
        the schema's owner, unless LINLI_MIGRATE=off) runs DDL at all; the API role starts without.
        The lock is held on a connection of its own, outside the pool, because everything done
        under it takes pooled connections (one at a time: nothing else runs yet), and closing that
        connection releases it."""
        self.migrating = self.settings.migrate == "auto"
        if not self.settings.postgres:
            yield
            return
        from api.append_only import may_migrate

        with psycopg.connect(self.settings.database_url, autocommit=True,
                             fallback_application_name=f"linli {os.getpid()}") as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext('linli:startup'))")
            self.migrating = self.migrating and may_migrate(conn, self.settings.database_schema)
            if self.migrating:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.settings.database_schema}"')
            yield

    def _protect_history(self, schema: str) -> None:
        from api.append_only import protect

        with self.db.transaction() as tx:
            protect(tx.conn, schema, [f"{name}_events" for name in self.contexts])

    @property
    def inline(self) -> bool:
        return not self.settings.postgres or self.settings.projections == "inline"

    def project(self) -> None:
        """Read-your-writes: the after-commit hook every engine runs, applying new events to the
        read models right after a command (inline mode; in worker mode the worker does it)."""
        if self.inline:
            self.projector.catch_up()

    def project_in_bulk(self) -> None:
        """After a bulk load (the seed): every read model catches up in bulk, whatever the mode."""
        self.projector.catch_up(bulk=True)

    def is_empty(self) -> bool:
        return not any(app.recorder.max_notification_id() for app in self.contexts.values())

    def shutdown(self) -> None:
        for app in self.contexts.values():
            app.close()
        self.db.close()
