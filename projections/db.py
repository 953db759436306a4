"""One small SQL surface over SQLite and PostgreSQL for read models and API state.

Why not eventsourcing's tracking recorders: they are one class per backend, and every view
would need its SQL written twice. Here a view writes portable SQL once (`%s` placeholders,
`ON CONFLICT` upserts) and gets rows as dicts; the transaction that writes a view's rows
also writes its tracking position.
"""
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool


class Tx(Protocol):
    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]: ...
    def lock(self, name: str) -> None: ...


class Database(Protocol):
    dialect: str

    def transaction(self, pipeline: bool = False, bulk: bool = False) -> Iterator[Tx]: ...
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]: ...
    def vacuum(self, tables: Sequence[str], full: bool = False) -> None: ...
    def close(self) -> None: ...


class _SqliteTx:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql.replace("%s", "?"), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql.replace("%s", "?"), rows)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        cursor = self.conn.execute(sql.replace("%s", "?"), tuple(params))
        names = [d[0] for d in cursor.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]

    def lock(self, name: str) -> None:
        """BEGIN IMMEDIATE already holds SQLite's single writer lock."""


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: Path | str):
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA secure_delete=FAST")  # what a row loses is zeroed where it costs no I/O
        self._mutex = threading.RLock()

    @contextmanager
    def transaction(self, pipeline: bool = False, bulk: bool = False) -> Iterator[_SqliteTx]:
        """`pipeline` and `bulk` matter only to PostgreSQL (SQLite has no round trips, and its
        commits here do not wait for the disk: synchronous=NORMAL)."""
        with self._mutex:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        with self._mutex:
            return _SqliteTx(self._conn).rows(sql, params)

    def vacuum(self, tables: Sequence[str], full: bool = False) -> None:
        """Planner statistics for these tables (SQLite reuses freed pages by itself), and the write-ahead
        log emptied into the file, so old row versions do not linger in it (an erasure)."""
        with self._mutex:
            for table in tables:
                self._conn.execute(f'ANALYZE "{table}"')
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._conn.close()


class _PostgresTx:
    dialect = "postgres"

    def __init__(self, conn):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(sql, rows)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def lock(self, name: str) -> None:
        """Serialise writers of one read model across processes until this transaction ends."""
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))


# psycopg_pool refills a pool after an outage with exponential backoff for up to 5 minutes, so a
# pool could stay empty for 30 s after PostgreSQL is back. Giving up early lets the next request
# grow the pool at once instead (issue 6: 2xx within 10 s of the database's return).
RECONNECT_SECONDS = 2.0
# How long a caller waits for a free connection: the event store 2 s (the library retries its
# statements 10 times, so a command answers 503 after about 20 s of outage), a projection worker's
# session 2 s (it tries again every poll), read models 10 s (not retried).
WAIT_SECONDS = 2.0
READ_WAIT_SECONDS = 10.0
# What the event store's own pool set on each connection: a session stuck in a transaction (a
# hung client holding the events table's lock) is ended after 5 s.
IDLE_IN_TRANSACTION = "5s"


def open_pool(conninfo: str, schema: str, size: int) -> ConnectionPool:
    """The process's one pool (docs/operations.md, "Connection budget"): at most `size` connections,
    shared by the read models, the API's tables and the contexts' event stores (api/wiring.py).
    Connections are in autocommit mode, as the event store requires; a transaction is always
    explicit, so a connection goes back to the pool as it came. Each is named after its process
    in pg_stat_activity unless the URL or PGAPPNAME names it."""
    return ConnectionPool(
        conninfo, min_size=1, max_size=size, open=True, timeout=WAIT_SECONDS,
        reconnect_timeout=RECONNECT_SECONDS,
        kwargs={"autocommit": True, "row_factory": dict_row,
                "fallback_application_name": f"linli {os.getpid()}",
                "options": f"-c search_path={schema} "
                           f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION}"},
    )


class PostgresDatabase:
    dialect = "postgres"

    def __init__(self, pool: ConnectionPool, schema: str, search_path: str | None = None):
        """`search_path`, when given, is set for each transaction (a rebuild's scratch schema)."""
        self.pool, self.schema, self.search_path = pool, schema, search_path

    @contextmanager
    def _connection(self, wait: float = READ_WAIT_SECONDS) -> Iterator:
        """A pooled connection that answers, for a transaction (which cannot be run again once
        its connection died with the server in an outage): a dead one is discarded here and the
        next taken. A plain read (`rows`) skips this round trip and runs again instead."""
        for _ in range(self.pool.max_size):
            with self.pool.connection(timeout=wait) as conn:
                try:
                    conn.execute("")
                except psycopg.OperationalError:
                    continue  # the pool drops a broken connection when it comes back
                yield conn
                return
        with self.pool.connection(timeout=wait) as conn:
            yield conn

    @contextmanager
    def transaction(self, pipeline: bool = False, bulk: bool = False) -> Iterator[_PostgresTx]:
        """With `pipeline`, statements whose results nobody reads are sent without waiting for
        each answer (psycopg pipeline mode): a projection batch's writes cost one round trip
        between reads instead of one each. With `bulk` (read models built in bulk: a rebuild, a
        seed's), the commit does not wait for the disk: a crash can lose only the last batches,
        each with its position, so they are applied again; nothing is half-applied."""
        with self._connection() as conn, conn.transaction(), conn.pipeline() if pipeline else nullcontext():
            if self.search_path:
                conn.execute(f"SET LOCAL search_path TO {self.search_path}")
            if bulk:
                conn.execute("SET LOCAL synchronous_commit TO OFF")
            yield _PostgresTx(conn)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        if self.search_path:
            with self.transaction() as tx:
                return tx.rows(sql, params)
        for attempt in range(self.pool.max_size + 1):
            with self.pool.connection(timeout=READ_WAIT_SECONDS) as conn:
                try:
                    return conn.execute(sql, tuple(params)).fetchall()
                except psycopg.OperationalError:
                    if not conn.broken or attempt == self.pool.max_size:
                        raise
                    # died with the server (an outage): the pool drops it; the read is run again

    def vacuum(self, tables: Sequence[str], full: bool = False) -> None:
        """VACUUM [FULL] ANALYZE these tables of this schema (see Projector.compact); it cannot run
        inside a transaction, and pooled connections are in autocommit mode."""
        with self._connection() as conn:
            for table in tables:
                conn.execute(f'VACUUM {"FULL " if full else ""}ANALYZE "{self.schema}"."{table}"')

    @contextmanager
    def session(self) -> Iterator:
        """A pooled connection held for a long session (a projection worker's LISTEN and its
        leadership locks), closed afterwards instead of returned: what the session set (channels
        listened to, session advisory locks) goes with it, and the pool opens a fresh one."""
        with self._connection(WAIT_SECONDS) as conn:
            try:
                yield conn
            finally:
                conn.close()

    @contextmanager
    def shadow(self, name: str) -> Iterator["PostgresDatabase"]:
        """A scratch schema searched before ours, through the same pool: tables created through it
        land there."""
        with self.transaction() as tx:
            tx.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            tx.execute(f'CREATE SCHEMA "{name}"')
        try:
            yield PostgresDatabase(self.pool, name, search_path=f'"{name}","{self.schema}"')
        finally:
            with self.transaction() as tx:
                tx.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    def close(self) -> None:
        self.pool.close()
