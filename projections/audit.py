"""The audit index: every event of every context with who, when, why and what, for auditors.

Rows are numbered (`seq`) in the order this view applies them, so `after=<seq>` cursors are
stable: rows arriving later always get higher numbers.
"""
import json
from datetime import datetime

from projections.db import Database, Tx
from projections.paging import Where
from projections.people import SEALED, KeyStore, Personal
from projections.projector import View, iso
from projections.rows import insert_rows

HIDDEN = ("originator_id", "originator_version", "timestamp", "meta", "originator_topic")


def event_data(event) -> dict:
    return {k: v for k, v in vars(event).items() if k not in HIDDEN}


def to_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def sealed_data(event) -> dict:
    """What the index keeps of an event's data: personal fields as stored (sealed), never their text,
    so the index holds nothing to erase and still matches the event once the key is gone."""
    return {k: {SEALED: v.sealed} if isinstance(v, Personal) else v for k, v in event_data(event).items()}


def sealed_text(value):
    """A personal text column (a member's reason) as the index keeps it: sealed, as JSON."""
    return to_json({SEALED: value.sealed}) if isinstance(value, Personal) else value


def opened_text(value: str | None, keys: KeyStore) -> str | None:
    if not value or not value.startswith('{"' + SEALED):
        return value
    try:
        return keys.open(json.loads(value)[SEALED])
    except (ValueError, KeyError, TypeError):
        return value  # text that only looks sealed is shown as given


def served_row(row: dict, keys: KeyStore) -> dict:
    """An index row as `/audit/events` serves it: sealed fields opened (their text, or 已删除)."""
    return {**row, "reason": opened_text(row["reason"], keys), "data": unsealed(row["data"], keys)}


def unsealed(data: str, keys: KeyStore) -> str:
    """An index row's `data` as served: each sealed field opened (its text, or 已删除)."""
    if SEALED not in data:
        return data
    return to_json({k: keys.open(v[SEALED]) if isinstance(v, dict) and set(v) == {SEALED} else v
                    for k, v in json.loads(data).items()})


COLUMNS = ("context", "position", "aggregate_id", "version", "type", "at", "actor_id", "actor_role", "correlation_id",
           "causation_id", "reason", "data")


def index_row(context: str, notification, event) -> dict:
    """The index's row for one event (all but its number)."""
    meta = getattr(event, "meta", None) or {}
    return dict(zip(COLUMNS, (
        context, notification.id, str(event.originator_id), event.originator_version, type(event).__qualname__,
        iso(event.timestamp), meta.get("actor_id"), meta.get("actor_role"), meta.get("correlation_id"),
        meta.get("causation_id"), sealed_text(meta.get("reason")), to_json(sealed_data(event))), strict=True))


def index_differences(stored: dict, context: str, notification, event) -> list[str]:
    """The columns where a stored index row disagrees with the event it indexes (verification)."""
    expected = index_row(context, notification, event)
    return [column for column in COLUMNS if stored[column] != expected[column]]


class AuditIndex(View):
    name = "audit_index"
    tables = ("audit_events",)
    ddl = (
        """CREATE TABLE IF NOT EXISTS audit_events (
            seq BIGINT PRIMARY KEY, context TEXT NOT NULL, position BIGINT NOT NULL, aggregate_id TEXT NOT NULL,
            version INTEGER NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, actor_id TEXT, actor_role TEXT,
            correlation_id TEXT, causation_id TEXT, reason TEXT, data TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS audit_events_aggregate ON audit_events (aggregate_id, version)",
        "CREATE INDEX IF NOT EXISTS audit_events_actor ON audit_events (actor_id, seq)",
        "CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events (type, seq)",
        "CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at, seq)",
        "CREATE INDEX IF NOT EXISTS audit_events_position ON audit_events (context, position)",
    )

    def __init__(self):
        self._next_seq = 0
        self._rows: list[tuple] = []

    def apply(self, event, tx: Tx, context: str) -> None:
        """The index needs the log position: see `record`."""

    def begin_batch(self, tx: Tx, context: str) -> None:
        """Read the numbering once per batch; the view's lock keeps other writers out meanwhile."""
        self._next_seq = tx.rows("SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM audit_events")[0]["seq"]
        self._rows = []

    def record(self, notification, event, tx: Tx, context: str) -> None:
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        self._rows.append((seq, *index_row(context, notification, event).values()))

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        """One multi-row write per batch."""
        insert_rows(tx, "audit_events", ("seq", "context", "position", "aggregate_id", "version", "type", "at",
                                          "actor_id", "actor_role", "correlation_id", "causation_id", "reason", "data"),
                    self._rows)
        self._rows = []


def search(db: Database, aggregate_id: str | None, actor_id: str | None, type: str | None, since: datetime | None,
           until: datetime | None, after: int, limit: int) -> list[dict]:
    """Cursor paging: the rows after `after` (a seq), in order, at most `limit` of them."""
    where = Where().add("seq > %s", after).equal((("aggregate_id", aggregate_id), ("actor_id", actor_id),
                                                   ("type", type)))
    for op, value in ((">=", since), ("<=", until)):
        if value is not None:
            where.add(f"at {op} %s", iso(value))
    return db.rows(f"SELECT * FROM audit_events {where.clause} ORDER BY seq LIMIT %s", (*where.params, limit))
