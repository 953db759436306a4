"""What a view remembers about aggregates so it can place their later events (a claim's demand,
a booking's times), read at most once per batch.

On PostgreSQL a batch's writes are pipelined, and every read is a round trip that first waits
for all the writes before it; reading the same subject again and again was most of a rebuild's
time (docs/performance.md). The cache lives for one batch: between batches another process may
have applied events (under the view's lock), so it starts empty each time.
"""
from projections.db import Tx


class Subjects:
    def __init__(self, table: str):
        self.table = table
        self._rows: dict[str, dict] = {}

    def clear(self) -> None:
        self._rows.clear()

    def get(self, tx: Tx, subject_id) -> dict:
        key = str(subject_id)
        if key not in self._rows:
            self._rows[key] = tx.rows(f"SELECT * FROM {self.table} WHERE id = %s", (key,))[0]
        return self._rows[key]

    def remember(self, tx: Tx, subject_id, **columns) -> None:
        """Insert or update these columns of the subject's row."""
        key = str(subject_id)
        names = ", ".join(columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
        tx.execute(f"INSERT INTO {self.table} (id, {names}) VALUES (%s{', %s' * len(columns)}) "
                   f"ON CONFLICT (id) DO UPDATE SET {updates}", (key, *columns.values()))
        if key in self._rows:
            self._rows[key].update(columns)

    def update(self, tx: Tx, subject_id, **columns) -> None:
        """Change columns of a subject's existing row."""
        key = str(subject_id)
        sets = ", ".join(f"{c} = %s" for c in columns)
        tx.execute(f"UPDATE {self.table} SET {sets} WHERE id = %s", (*columns.values(), key))
        if key in self._rows:
            self._rows[key].update(columns)

    def add(self, tx: Tx, subject_id, column: str, change: float) -> None:
        key = str(subject_id)
        tx.execute(f"UPDATE {self.table} SET {column} = {column} + %s WHERE id = %s", (change, key))
        if key in self._rows:
            self._rows[key][column] += change
