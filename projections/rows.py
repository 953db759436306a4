"""A table's row changes of one batch, kept in memory and written once, at the batch's end.

Why: a view that wrote each event's change at once sent two or three statements per event
(about 100 µs of client time each: docs/performance.md). Here each event changes a row in
memory; at the end of the batch every row that changed is written once, with one
`executemany` per kind of change (psycopg sends them pipelined, SQLite steps one prepared
statement), in the batch's transaction, before its position is recorded. A later change to a
row folds into the earlier one (an insert and its updates become one insert). On PostgreSQL a
kind of change is one statement for all its rows, whatever their number: the rows travel as one
array per column (`INSERT … SELECT FROM unnest(…)`, `UPDATE … FROM unnest(…)`).

Reads see the batch's changes: a column this batch has set is answered from memory; anything
else writes what is pending for the table first and then reads the row (rare: what a view
needs to know of an aggregate is mostly made in the same batch).
"""
from collections import defaultdict
from collections.abc import Sequence

from projections.db import Tx

INSERT, UPSERT, UPDATE, DELETE = "insert", "upsert", "update", "delete"


def _text(value) -> str | None:
    """A value as PostgreSQL reads it back from text (a whole float fits an integer column too)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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
    def _types(self, tx: Tx) -> dict[str, str]:
        """The PostgreSQL type of each column, read once per process."""
        if not hasattr(self, "_column_types"):
            self._column_types = {r["column_name"]: r["data_type"] for r in tx.rows(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s", (self.table,))}
        return self._column_types

    def _unnest(self, tx: Tx, kind: str, columns: tuple[str, ...], params: list) -> None:
        """One kind of change to many rows as one statement: each column an array of text, cast back."""
        types = self._types(tx)
        names = (*self.key, *columns) if kind != UPDATE and kind != "add" else (*columns, *self.key)
        arrays = [[_text(v) for v in column] for column in zip(*params, strict=True)]
        source = (f"unnest({', '.join(['%s::text[]'] * len(names))}) AS v({', '.join(names)})")
        cast = {c: f"v.{c}::{types[c]}" for c in names}
        match = " AND ".join(f"{self.table}.{c} = {cast[c]}" for c in self.key)
        if kind == DELETE:
            sql = f"DELETE FROM {self.table} USING {source} WHERE {match}"
        elif kind in (INSERT, UPSERT):
            sql = f"INSERT INTO {self.table} ({', '.join(names)}) SELECT {', '.join(cast[c] for c in names)} FROM {source}"
            if kind == UPSERT:
                sets = ", ".join(f"{c} = excluded.{c}" for c in columns)
                sql += f" ON CONFLICT ({', '.join(self.key)}) " + (f"DO UPDATE SET {sets}" if columns else "DO NOTHING")
        elif kind == UPDATE:
            sql = f"UPDATE {self.table} SET {', '.join(f'{c} = {cast[c]}' for c in columns)} FROM {source} WHERE {match}"
        else:
            sets = ", ".join(f"{c} = {self.table}.{c} + {cast[c]}" for c in columns)
            sql = f"UPDATE {self.table} SET {sets} FROM {source} WHERE {match}"
        tx.execute(sql, arrays)

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
            if tx.dialect == "postgres" and (columns or kind in (DELETE, UPSERT)):
                self._unnest(tx, kind, columns, params)
                continue
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


def insert_rows(tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Append many rows to a table in one statement on PostgreSQL (`unnest`), one prepared
    statement on SQLite."""
    if not rows:
        return
    if tx.dialect == "postgres":
        Rows(table, columns[:1])._unnest(tx, INSERT, tuple(columns[1:]), list(rows))
    else:
        tx.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})", rows)
