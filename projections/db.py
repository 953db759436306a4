"""One small SQL surface over SQLite and PostgreSQL for read models and API state.

Why not eventsourcing's tracking recorders: they are one class per backend, and every view
would need its SQL written twice. Here a view writes portable SQL once (`%s` placeholders,
`ON CONFLICT` upserts) and gets rows as dicts; the transaction that writes a view's rows
also writes its tracking position.
"""
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol


class Tx(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]: ...
    def lock(self, name: str) -> None: ...


class Database(Protocol):
    dialect: str

    def transaction(self, pipeline: bool = False) -> Iterator[Tx]: ...
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]: ...
    def vacuum(self, tables: Sequence[str], full: bool = False) -> None: ...
    def close(self) -> None: ...


class _SqliteTx:
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
        self._mutex = threading.RLock()

    @contextmanager
    def transaction(self, pipeline: bool = False) -> Iterator[_SqliteTx]:
        """`pipeline` matters only to PostgreSQL (SQLite has no round trips)."""
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
        """Planner statistics for these tables (SQLite reuses freed pages by itself)."""
        with self._mutex:
            for table in tables:
                self._conn.execute(f'ANALYZE "{table}"')

    def close(self) -> None:
        self._conn.close()


class _PostgresTx:
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


class PostgresDatabase:
    dialect = "postgres"

    def __init__(self, conninfo: str, schema: str, min_size: int = 1, max_size: int = 8,
                 search_path: str | None = None):
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        self.conninfo, self.schema = conninfo, schema
        self._pool = ConnectionPool(
            conninfo, min_size=min_size, max_size=max_size, open=True, timeout=10,
            reconnect_timeout=RECONNECT_SECONDS,
            check=ConnectionPool.check_connection,
            kwargs={"row_factory": dict_row, "options": f"-c search_path={search_path or schema}"},
        )

    @contextmanager
    def transaction(self, pipeline: bool = False) -> Iterator[_PostgresTx]:
        """With `pipeline`, statements whose results nobody reads are sent without waiting for
        each answer (psycopg pipeline mode): a projection batch's writes cost one round trip
        between reads instead of one each."""
        with self._pool.connection() as conn, conn.transaction(), conn.pipeline() if pipeline else nullcontext():
            yield _PostgresTx(conn)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        with self._pool.connection() as conn:
            return conn.execute(sql, tuple(params)).fetchall()

    def vacuum(self, tables: Sequence[str], full: bool = False) -> None:
        """VACUUM [FULL] ANALYZE these tables of this schema (see Projector.compact)."""
        with self._pool.connection() as conn:
            conn.autocommit = True  # VACUUM cannot run inside a transaction
            try:
                for table in tables:
                    conn.execute(f'VACUUM {"FULL " if full else ""}ANALYZE "{self.schema}"."{table}"')
            finally:
                conn.autocommit = False

    def connection(self):
        """A pooled connection for one transaction of raw statements (schema set-up)."""
        return self._pool.connection()

    @contextmanager
    def shadow(self, name: str) -> Iterator["PostgresDatabase"]:
        """A scratch schema searched before ours: tables created through it land there."""
        with self.transaction() as tx:
            tx.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            tx.execute(f'CREATE SCHEMA "{name}"')
        shadow = PostgresDatabase(self.conninfo, name, max_size=2, search_path=f'"{name}","{self.schema}"')
        try:
            yield shadow
        finally:
            shadow.close()
            with self.transaction() as tx:
                tx.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    def close(self) -> None:
        self._pool.close()
