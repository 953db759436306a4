"""The stores opened for reading only, for `linli audit verify|anchor|export`.

Verification must not write: not the schema (no CREATE), not the read models (no catch-up),
not a checkpoint (no signing). So it opens the event stores without creating tables, SQLite
files with `mode=ro`, and the read-model store as a plain reader; it works through a
PostgreSQL role that may only SELECT, and on a read-only copy of the SQLite files.
"""
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from api.settings import Settings
from api.wiring import event_store_env, share_pool
from projections.db import PostgresDatabase, open_pool
from projections.people import KeyStore, install
from workflows.demands import Demands
from workflows.registry import Registry
from workflows.services import Services
from workflows.venues import Venues

APPLICATIONS = {"registry": Registry, "demands": Demands, "venues": Venues, "services": Services}


def sqlite_uri(path) -> str:
    """Read-only; a copy whose files nobody may write is opened as immutable, so SQLite does not try to
    create its shared-memory and log files beside it (a live store needs them for consistent reads)."""
    immutable = "&immutable=1" if path.exists() and not path.stat().st_mode & 0o222 else ""
    return f"file:{path}?mode=ro{immutable}"


class ReadOnlySqlite:
    """The read-model file opened read-only: any write fails in SQLite itself."""

    dialect = "sqlite"

    def __init__(self, path):
        self._conn = sqlite3.connect(sqlite_uri(path), uri=True, check_same_thread=False)
        self._mutex = threading.Lock()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        with self._mutex:
            cursor = self._conn.execute(sql.replace("%s", "?"), tuple(params))
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def close(self) -> None:
        self._conn.close()


class ReadOnlyStore:
    def __init__(self, settings: Settings):
        self.settings, self.audit_key = settings, settings.audit_keys()
        self.contexts = {}
        for name, application in APPLICATIONS.items():
            env = {**event_store_env(settings, name), "CREATE_TABLE": "n"}
            if not settings.postgres:
                env["SQLITE_DBNAME"] = sqlite_uri(settings.data_dir / f"{name}.sqlite")
            self.contexts[name] = application(env=env)
        if settings.postgres:
            pool = open_pool(settings.database_url, settings.database_schema, 2)
            self.db = PostgresDatabase(pool, settings.database_schema)
            for app in self.contexts.values():
                share_pool(app, pool, create_tables=False)
        else:
            self.db = ReadOnlySqlite(settings.data_dir / "views.sqlite")
        self.people = KeyStore(self.db, create=False)  # personal fields decode; nothing is sealed here
        for app in self.contexts.values():
            install(app, self.people)

    def shutdown(self) -> None:
        for app in self.contexts.values():
            app.close()
        self.db.close()
