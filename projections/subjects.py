"""What a view remembers about aggregates so it can place their later events (a claim's demand,
a booking's times), read at most once per batch and written once at its end.

On PostgreSQL a batch's writes are pipelined, and every read is a round trip that first waits
for all the writes before it; reading the same subject again and again was most of a rebuild's
time (docs/performance.md). The rows live for one batch (projections/rows.py): between batches
another process may have applied events (under the view's lock), so they start empty each time.
"""
from projections.db import Tx
from projections.rows import Rows


class Subjects:
    def __init__(self, table: str):
        self.table = table
        self.rows = Rows(table)

    def clear(self) -> None:
        self.rows.clear()

    def flush(self, tx: Tx) -> None:
        self.rows.flush(tx)

    def get(self, tx: Tx, subject_id) -> "Subject":
        """The subject's row; each column is read from memory when this batch set it."""
        return Subject(self.rows, tx, subject_id)

    def remember(self, tx: Tx, subject_id, **columns) -> None:
        """Insert or update these columns of the subject's row."""
        self.rows.upsert(subject_id, **columns)

    def update(self, tx: Tx, subject_id, **columns) -> None:
        """Change columns of a subject's existing row."""
        self.rows.update(subject_id, **columns)

    def add(self, tx: Tx, subject_id, column: str, change: float) -> None:
        self.rows.add(subject_id, column, change)


class Subject:
    def __init__(self, rows: Rows, tx: Tx, subject_id):
        self.rows, self.tx, self.id = rows, tx, subject_id

    def __getitem__(self, column: str):
        return self.rows.value(self.tx, self.id, column)
