"""A table's row changes of one batch, kept in memory and written once, at the batch's end.

Why: a view that wrote each event's change at once sent two or three statements per event
(about 100 µs of client time each: docs/performance.md). Here each event changes a row in
memory; at the end of the batch every row that changed is written once, with one
`executemany` per kind of change (psycopg sends them pipelined, SQLite steps one prepared
statement), in the batch's transaction, before its position is recorded. A later change to a
row folds into the earlier one (an insert and its updates become one insert).

Reads see the batch's changes: a column this batch has set is answered from memory; anything
else writes what is pending for the table first and then reads the row (rare: what a view
needs to know of an aggregate is mostly made in the same batch).
"""
from collections import defaultdict
from collections.abc import Sequence

from projections.db import Tx

INSERT, UPSERT, UPDATE, DELETE = "insert", "upsert", "update", "delete"


class Rows:
    def __init__(self, table: str, key: Sequence[str] = ("id",)):
        self.table, self.key = table, tuple(key)
        self.clear()

    def clear(self) -> None:
        self._ops: dict[tuple, tuple[str, dict]] = {}  # key → (kind, column values)
        self._adds: defaultdict[tuple, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._known: dict[tuple, dict] = {}  # what this batch knows each row holds now
        self._whole: set[tuple] = set()  # rows read in full (then changed only here)

    @staticmethod
    def _k(key) -> tuple:
        return tuple(str(k) for k in key) if isinstance(key, tuple) else (str(key),)

    # -- changes ---------------------------------------------------------------------------------
    def insert(self, key, **columns) -> None:
        """A new row."""
        k = self._k(key)
        kind = UPSERT if k in self._ops and self._ops[k][0] == DELETE else INSERT
        self._ops[k] = (kind, dict(columns))
        self._adds.pop(k, None)
        self._known[k] = dict(columns)
        self._whole.discard(k)

    def upsert(self, key, **columns) -> None:
        """Insert the row with these columns, or set them on the existing one."""
        k = self._k(key)
        kind, values = self._ops.get(k, (UPSERT, {}))
        self._ops[k] = (UPSERT if kind in (DELETE, UPDATE) else kind, {**(values if kind != DELETE else {}), **columns})
        self._remember(k, columns)

    def update(self, key, **columns) -> None:
        """Set these columns of an existing row."""
        k = self._k(key)
        kind, values = self._ops.get(k, (UPDATE, {}))
        if kind == DELETE:
            return
        self._ops[k] = (kind, {**values, **columns})
        self._remember(k, columns)

    def add(self, key, column: str, amount: float) -> None:
        """Add to a number column of an existing row."""
        k = self._k(key)
        kind, values = self._ops.get(k, (None, {}))
        if kind == DELETE:
            return
        if column in values:
            values[column] += amount
        else:
            self._adds[k][column] += amount
        if column in self._known.get(k, {}):
            self._known[k][column] += amount

    def delete(self, key) -> None:
        k = self._k(key)
        self._ops[k] = (DELETE, {})
        self._adds.pop(k, None)
        self._known[k] = {}
        self._whole.discard(k)

    def _remember(self, k: tuple, columns: dict) -> None:
        self._known.setdefault(k, {}).update(columns)

    # -- reads -----------------------------------------------------------------------------------
    def get(self, tx: Tx, key) -> dict | None:
        """The row as this batch has left it (None when there is none)."""
        k = self._k(key)
        if k not in self._whole:
            if k in self._ops or k in self._adds:
                self.flush(tx)
            where = " AND ".join(f"{c} = %s" for c in self.key)
            found = tx.rows(f"SELECT * FROM {self.table} WHERE {where}", k)
            self._known[k] = dict(found[0]) if found else {}
            self._whole.add(k)
        return self._known[k] or None

    def value(self, tx: Tx, key, column: str):
        """One column of a row, from memory when this batch set it."""
        known = self._known.get(self._k(key), {})
        if column in known:
            return known[column]
        row = self.get(tx, key)
        return row[column] if row else None

    # -- writing ---------------------------------------------------------------------------------
    def flush(self, tx: Tx) -> None:
        """Write every pending change: deletes, inserts, upserts, updates, then additions, each kind
        as one statement per set of columns."""
        groups: defaultdict[tuple[str, tuple[str, ...]], list] = defaultdict(list)
        for k, (kind, values) in self._ops.items():
            columns = tuple(sorted(values))
            groups[(kind, columns)].append((*k, *(values[c] for c in columns)) if kind != UPDATE
                                           else (*(values[c] for c in columns), *k))
        for k, adds in self._adds.items():
            columns = tuple(sorted(adds))
            groups[("add", columns)].append((*(adds[c] for c in columns), *k))
        keys, where = ", ".join(self.key), " AND ".join(f"{c} = %s" for c in self.key)
        order = {DELETE: 0, INSERT: 1, UPSERT: 2, UPDATE: 3, "add": 4}
        for (kind, columns), params in sorted(groups.items(), key=lambda g: (order[g[0][0]], g[0][1])):
            names = ", ".join((*self.key, *columns))
            marks = ", ".join(["%s"] * (len(self.key) + len(columns)))
            if kind == DELETE:
                sql = f"DELETE FROM {self.table} WHERE {where}"
            elif kind == INSERT:
                sql = f"INSERT INTO {self.table} ({names}) VALUES ({marks})"
            elif kind == UPSERT:
                sets = ", ".join(f"{c} = excluded.{c}" for c in columns)
                sql = (f"INSERT INTO {self.table} ({names}) VALUES ({marks}) ON CONFLICT ({keys}) "
                       + (f"DO UPDATE SET {sets}" if columns else "DO NOTHING"))
            elif kind == UPDATE:
                if not columns:
                    continue
                sql = f"UPDATE {self.table} SET {', '.join(f'{c} = %s' for c in columns)} WHERE {where}"
            else:
                sql = f"UPDATE {self.table} SET {', '.join(f'{c} = {c} + %s' for c in columns)} WHERE {where}"
            tx.executemany(sql, params)
        self._ops.clear()
        self._adds.clear()
