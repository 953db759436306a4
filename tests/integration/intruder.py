"""Someone with write access to the store, bypassing the application: the SQLite files, or a
PostgreSQL superuser (who may switch the append-only trigger off as its owner may)."""
import sqlite3
from contextlib import contextmanager

import psycopg

from projections.chain import GENESIS, entry_hash, stored_entries


class Intruder:
    def __init__(self, system):
        self.system, self.settings = system, system.settings

    @contextmanager
    def _cursor(self, file: str):
        if self.settings.postgres:
            with psycopg.connect(self.settings.database_url, autocommit=True) as conn, conn.transaction():
                conn.execute("SET LOCAL linli.allow_history_rewrite = 'on'")
                conn.execute(f'SET LOCAL search_path = "{self.settings.database_schema}"')

                def run(sql, params=()):
                    cursor = conn.execute(sql, params)
                    return cursor.fetchall() if cursor.description else []

                yield run
        else:
            with sqlite3.connect(self.settings.data_dir / f"{file}.sqlite") as conn:
                yield lambda sql, params=(): conn.execute(sql.replace("%s", "?"), params).fetchall()

    def _events(self, context: str) -> tuple[str, str]:
        """(table, position column) of a context's events."""
        return (f"{context}_events", "notification_id") if self.settings.postgres else ("stored_events", "rowid")

    def views(self, sql: str, params: tuple = ()) -> list:
        with self._cursor("views") as run:
            return run(sql, params)

    def position_of(self, event_type: str, context: str = "demands") -> int:
        return self.views("SELECT position FROM audit_events WHERE context = %s AND type = %s ORDER BY position",
                          (context, event_type))[0][0]

    def rewrite(self, context: str, position: int, old: bytes, new: bytes) -> None:
        table, column = self._events(context)
        with self._cursor(context) as run:
            state = bytes(run(f"SELECT state FROM {table} WHERE {column} = %s", (position,))[0][0])
            assert old in state, state
            run(f"UPDATE {table} SET state = %s WHERE {column} = %s", (state.replace(old, new), position))

    def delete_events(self, context: str, positions: list[int]) -> None:
        table, column = self._events(context)
        with self._cursor(context) as run:
            for position in positions:
                run(f"DELETE FROM {table} WHERE {column} = %s", (position,))

    def rechain(self, context: str) -> None:
        """Recompute the context's chain from the (rewritten) events: plain SHA-256, no key needed."""
        app = self.system.contexts[context]
        entries, previous = [], GENESIS
        for position, originator_id, version, topic, state in stored_entries(app):
            previous = entry_hash(previous, position, originator_id, version, topic, state)
            entries.append((previous, context, position))
        with self._cursor("views") as run:
            for entry in entries:
                run("UPDATE audit_chain SET hash = %s WHERE context = %s AND position = %s", entry)

    def delete_checkpoints(self, context: str, from_position: int) -> None:
        self.views("DELETE FROM audit_checkpoints WHERE context = %s AND position >= %s", (context, from_position))

    def move_chain_back(self, context: str, before: int) -> None:
        """Forget the chain from a position on, and tell the projector it never got there."""
        self.views("DELETE FROM audit_chain WHERE context = %s AND position >= %s", (context, before))
        self.views("UPDATE tracking SET position = %s WHERE view = 'audit_chain' AND context = %s",
                   (before - 1, context))
