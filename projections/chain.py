"""Tamper evidence: a hash chain over each context's stored events, with signed checkpoints.

Each entry's hash covers the previous entry's hash and the stored event's position,
aggregate id, version, topic and bytes. Whoever can write the database can recompute that, so
the processes holding the Ed25519 key sign checkpoints at a cadence (projections.signing), and
verification recomputes everything from the events themselves, reading only: the chain, each
checkpoint's signature, head and count, the checkpoints' own chain, the cadence, and the audit
index. Events after the newest checkpoint are only as safe as the chain and the published
anchors (docs/audit.md).

The entry format is also what `linli audit export` writes and `projections.verify_export`
(standard library only) rechecks.
"""
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from projections.db import Database, Tx
from projections.projector import View, iso
from projections.rows import insert_rows
from projections.signing import FORMAT, AuditKeys, Cadence, seal, well_signed

GENESIS = "0" * 64
REMEMBERED = ("remembered",)  # the head of a tail read from the witness file: never the chain's own
log = logging.getLogger("linli.audit")
CHECKPOINT_COLUMNS = ("context", "seq", "position", "previous", "head", "events", "every_events", "every_seconds",
                      "hash", "signature")


def entry_hash(previous: str, position: int, originator_id: str, version: int, topic: str, state: bytes) -> str:
    h = hashlib.sha256()
    for part in (previous, str(position), str(originator_id), str(version), topic):
        h.update(part.encode())
        h.update(b"\x1f")
    h.update(state)
    return h.hexdigest()


def as_checkpoint(row: dict) -> dict:
    return {"format": FORMAT, **{k: row[k] for k in CHECKPOINT_COLUMNS}}


@dataclass
class _Tail:
    """What a signer knows of one context: the newest checkpoint, and the events chained since."""

    checkpoint: dict | None
    count: int = 0
    started: datetime | None = None
    head: tuple | None = None  # (position, hash) of the newest chain entry this state includes


class AuditChain(View):
    name = "audit_chain"
    rebuilt_by_default = False
    tables = ("audit_chain", "audit_checkpoints")
    ddl = (
        """CREATE TABLE IF NOT EXISTS audit_chain (
            context TEXT NOT NULL, position BIGINT NOT NULL, hash TEXT NOT NULL, at TEXT NOT NULL,
            PRIMARY KEY (context, position))""",
        """CREATE TABLE IF NOT EXISTS audit_checkpoints (
            context TEXT NOT NULL, seq BIGINT NOT NULL, position BIGINT NOT NULL, previous TEXT NOT NULL,
            head TEXT NOT NULL, events BIGINT NOT NULL, every_events BIGINT NOT NULL,
            every_seconds BIGINT NOT NULL, hash TEXT NOT NULL, signature TEXT NOT NULL,
            PRIMARY KEY (context, position))""",
    )

    def migrate(self, db: Database, tx: Tx) -> None:
        """A store from before signed, chained checkpoints (checkpoints of context, position, hash and
        an HMAC signature; a chain without times) keeps those tables as `audit_chain_v1` and
        `audit_checkpoints_v1`, and the chain is made again from the events, signed with this key
        (docs/audit.md, "Upgrading an older store")."""
        have = columns(db, tx, "audit_checkpoints")
        if not have or "seq" in have:
            return
        log.warning("audit: migrating the checkpoint tables of an older release; the old ones stay as *_v1")
        for table in self.tables:
            tx.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
            if db.dialect == "postgres":
                tx.execute(f"ALTER INDEX IF EXISTS {table}_pkey RENAME TO {table}_v1_pkey")
        tx.execute("DELETE FROM tracking WHERE view = %s", (self.name,))
        tx.execute("DELETE FROM projection_stops WHERE view = %s", (self.name,))

    def __init__(self, keys: AuditKeys | None = None):
        self.keys = keys or AuditKeys()
        self._previous = GENESIS
        self._entries: list[tuple] = []
        self._checkpoints: list[dict] = []
        self._tails: dict[str, _Tail] = {}  # per context, as of this process's last committed batch
        self._signing: _Tail | None = None
        self._unwritten: dict[str, dict] = {}  # per context, the newest checkpoint signed, until committed

    def begin_batch(self, tx: Tx, context: str) -> None:
        """Read the chain's head once per batch; the view's lock keeps other writers out meanwhile."""
        rows = tx.rows("SELECT position, hash FROM audit_chain WHERE context = %s ORDER BY position DESC LIMIT 1",
                       (context,))
        head = (rows[0]["position"], rows[0]["hash"]) if rows else None
        self._previous = head[1] if head else GENESIS
        self._entries, self._checkpoints, self._signing = [], [], None
        if self.keys.private is not None:
            self._signing = self._tail(tx, context, head)

    def _tail(self, tx: Tx, context: str, head: tuple | None) -> _Tail | None:
        """Where signing continues; None (sign nothing) when the store lost a checkpoint this process
        saw: then someone removed signed history, and signing on would certify what replaced it."""
        known = self._tails.get(context) or self._remembered(context)
        if known is not None and known.head == head:
            return _Tail(known.checkpoint, known.count, known.started, head)
        witness = known.checkpoint if known else None
        rows = tx.rows("SELECT * FROM audit_checkpoints WHERE context = %s AND position IN "
                       "(%s, (SELECT MAX(position) FROM audit_checkpoints WHERE context = %s))",
                       (context, witness["position"] if witness else -1, context))
        latest = as_checkpoint(max(rows, key=lambda r: r["position"])) if rows else None
        if witness is not None and head is not None and not any(
                as_checkpoint(r)["hash"] == witness["hash"] for r in rows):
            log.error("audit: the %s store no longer holds checkpoint %s (position %s) that this process saw; "
                      "not signing until an operator has looked (run `linli audit verify`)",
                      context, witness["seq"], witness["position"])
            return None
        if latest is not None and not well_signed(self.keys.private.public_key(), latest):
            log.error("audit: the newest %s checkpoint (%s) is not signed by this key; not signing", context,
                      latest["seq"])
            return None
        after = latest["position"] if latest else 0
        counted = tx.rows("SELECT COUNT(*) AS n, (SELECT at FROM audit_chain WHERE context = %s AND position > %s "
                          "ORDER BY position LIMIT 1) AS started FROM audit_chain "
                          "WHERE context = %s AND position > %s", (context, after, context, after))[0]
        started = datetime.fromisoformat(counted["started"]) if counted["started"] else None
        return _Tail(latest, counted["n"], started, head)

    def apply(self, event, tx: Tx, context: str) -> None:
        """The chain needs the stored form: see `record`."""

    def record(self, notification, event, tx: Tx, context: str) -> None:
        digest = self._previous = entry_hash(self._previous, notification.id, str(notification.originator_id),
                                             notification.originator_version, notification.topic,
                                             bytes(notification.state))
        self._entries.append((context, notification.id, digest, iso(event.timestamp)))
        tail = self._signing
        if tail is None:
            return
        tail.count += 1
        tail.started = tail.started or event.timestamp
        tail.head = (notification.id, digest)
        cadence = self.keys.cadence
        if tail.count >= cadence.events or (event.timestamp - tail.started).total_seconds() >= cadence.seconds:
            previous = tail.checkpoint
            tail.checkpoint = seal(self.keys.private, {
                "context": context, "seq": previous["seq"] + 1 if previous else 1,
                "previous": previous["hash"] if previous else GENESIS, "position": notification.id, "head": digest,
                "events": (previous["events"] if previous else 0) + tail.count,
                "every_events": cadence.events, "every_seconds": cadence.seconds})
            self._checkpoints.append(tail.checkpoint)
            tail.count, tail.started = 0, None

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        """Write the batch's entries and the checkpoints that fell due in it."""
        insert_rows(tx, "audit_chain", ("context", "position", "hash", "at"), self._entries)
        tx.executemany(f"INSERT INTO audit_checkpoints ({', '.join(CHECKPOINT_COLUMNS)}) "
                       f"VALUES ({', '.join(['%s'] * len(CHECKPOINT_COLUMNS))})",
                       [tuple(cp[k] for k in CHECKPOINT_COLUMNS) for cp in self._checkpoints])
        if self._signing is not None:  # a halted signer keeps what it saw, so it stays halted
            self._tails[context] = self._signing
        if self._checkpoints:
            self._unwritten[context] = self._checkpoints[-1]
        self._entries, self._checkpoints = [], []

    def committed(self, context: str) -> None:
        """Remember the newest checkpoint outside the database, once the store holds it, so that a
        restarted signer still knows it (`LINLI_AUDIT_WITNESS_FILE`)."""
        checkpoint = self._unwritten.pop(context, None)
        if checkpoint is None or self.keys.witness is None:
            return
        path = self.keys.witness
        remembered = _read_witness(path)
        if remembered.get(context, {}).get("seq", 0) >= checkpoint["seq"]:
            return
        remembered[context] = checkpoint
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        scratch.write_text(json.dumps(remembered, sort_keys=True), encoding="utf-8")
        os.replace(scratch, path)  # whole or not at all, whoever reads it

    def _remembered(self, context: str) -> _Tail | None:
        """What a signer that restarted remembers of a context: the checkpoint in the witness file."""
        if self.keys.witness is None:
            return None
        checkpoint = _read_witness(self.keys.witness).get(context)
        return _Tail(checkpoint, head=REMEMBERED) if checkpoint else None


def _read_witness(path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def columns(db: Database, tx: Tx, table: str) -> list[str]:
    """The table's columns (none when it does not exist)."""
    if db.dialect == "postgres":
        return [r["name"] for r in tx.rows("SELECT column_name AS name FROM information_schema.columns "
                                           "WHERE table_schema = current_schema() AND table_name = %s", (table,))]
    return [r["name"] for r in tx.rows(f"PRAGMA table_info({table})")]


@dataclass
class Finding:
    context: str
    position: int | None
    problem: str


def stored_entries(app, batch: int = 1000) -> Iterator[tuple]:
    """(position, originator_id, version, topic, state) of every stored event, in log order."""
    for n in notifications(app, batch):
        yield n.id, str(n.originator_id), n.originator_version, n.topic, stored_bytes(n)


def notifications(app, batch: int = 1000) -> Iterator:
    start = 1
    while True:
        page = app.recorder.select_notifications(start, batch)
        yield from page
        if len(page) < batch:
            return
        start = page[-1].id + 1


def stored_bytes(notification) -> bytes:
    """The stored bytes (a tampered row may hold text)."""
    state = notification.state
    return bytes(state) if isinstance(state, bytes | bytearray | memoryview) else str(state).encode()


def paged(db: Database, table: str, context: str, columns: str = "*", page: int = 5000) -> Iterator[dict]:
    """A table's rows of one context in position order, a page at a time (keyset paging)."""
    after = -1
    while True:
        rows = db.rows(f"SELECT {columns} FROM {table} WHERE context = %s AND position > %s "
                       "ORDER BY position LIMIT %s", (context, after, page))
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1]["position"]


def checkpoints(db: Database, context: str) -> list[dict]:
    rows = db.rows("SELECT * FROM audit_checkpoints WHERE context = %s ORDER BY seq, position", (context,))
    return [as_checkpoint(r) for r in rows]


def anchor(db: Database, contexts) -> dict:
    """The newest checkpoint of each context: what operators publish outside the database."""
    newest = {}
    for context in contexts:
        rows = db.rows("SELECT * FROM audit_checkpoints WHERE context = %s ORDER BY seq DESC LIMIT 1", (context,))
        if rows:
            newest[context] = as_checkpoint(rows[0])
    return {"format": "linli-anchor/1", "checkpoints": newest}


def export(db: Database, contexts: dict, since: str | None, until: str | None) -> Iterator[dict]:
    """Chain entries with their stored events, for `linli audit export` (times filter by event time),
    each checkpoint on its own line after the entry it signs."""
    import base64

    for context, app in contexts.items():
        chain = {r["position"]: r for r in paged(db, "audit_chain", context)}
        signed = {cp["position"]: cp for cp in checkpoints(db, context)}
        previous = GENESIS
        for position, originator_id, version, topic, state in stored_entries(app):
            entry = chain.get(position)
            inside = entry is not None and (since is None or entry["at"] >= since) and (
                until is None or entry["at"] <= until)
            if inside:
                yield {"context": context, "position": position, "originator_id": originator_id,
                       "version": version, "topic": topic, "at": entry["at"],
                       "state": base64.b64encode(state).decode(),
                       "prev_hash": previous, "hash": entry["hash"]}
                if position in signed:
                    yield {"checkpoint": signed[position]}
            previous = entry["hash"] if entry else previous


def verify(db: Database, contexts: dict, keys: AuditKeys | None) -> list[Finding]:
    """Recompute each context's chain from its event store and hold the stored chain, every
    checkpoint, the cadence and the audit index against it. Reads only."""
    keys = keys or AuditKeys()
    findings = []
    for context, app in contexts.items():
        findings += _Verification(db, context, keys).run(app)
    return findings


class _Verification:
    """One context's log, walked once in order beside its chain, index and checkpoints."""

    def __init__(self, db: Database, context: str, keys: AuditKeys):
        self.db, self.context, self.keys = db, context, keys
        self.findings: list[Finding] = []
        self._kinds: set[str] = set()

    def find(self, kind: str, position: int | None, problem: str) -> None:
        """The first finding of each kind: later ones of the same kind follow from it."""
        if kind not in self._kinds:
            self._kinds.add(kind)
            self.findings.append(Finding(self.context, position, problem))

    def run(self, app) -> list[Finding]:
        from projections.audit import index_differences

        signed = self._valid_checkpoints(checkpoints(self.db, self.context))
        enforce = self.keys.public is not None or bool(signed) or bool(self.findings)
        due = {cp["position"]: cp for cp in signed}
        chain = _Cursor(paged(self.db, "audit_chain", self.context, "position, hash"))
        index = _Cursor(paged(self.db, "audit_events", self.context))
        head, count, segment, last = GENESIS, 0, [], None
        for n in notifications(app):
            head = entry_hash(head, n.id, str(n.originator_id), n.originator_version, n.topic, stored_bytes(n))
            count += 1
            event = _decoded(app, n)
            for orphan in chain.before(n.id):
                self.find("chain", orphan["position"], "an event recorded in the chain is missing from the store")
            entry = chain.at(n.id)
            if entry is None and chain.current is not None:
                self.find("chain", n.id, "an event in the store was never chained")
            elif entry is not None and entry["hash"] != head:
                self.find("chain", n.id, "the stored event no longer matches its chain entry")
            for orphan in index.before(n.id):
                self.find("index", orphan["position"], "an audit index row has no event in the store")
            row = index.at(n.id)
            if row is not None and event is not None and (diff := index_differences(row, self.context, n, event)):
                self.find("index", n.id, f"the audit index differs from the event ({', '.join(diff)})")
            segment.append(event.timestamp if event is not None else None)
            checkpoint = due.pop(n.id, None)
            if checkpoint is not None:
                self._hold_checkpoint(checkpoint, head, count)
                if last is not None:
                    self._hold_cadence(segment, _cadence_of(checkpoint), f"before checkpoint {checkpoint['seq']}",
                                       n.id, closed=True)
                last, segment = checkpoint, []
        for orphan in chain.rest():
            self.find("chain", orphan["position"], "an event recorded in the chain is missing from the store")
        for cp in due.values():
            self.find("checkpoint", cp["position"],
                      f"checkpoint {cp['seq']} signs position {cp['position']}, which the store no longer holds")
        if enforce and segment:
            where = f"after checkpoint {last['seq']}" if last else "from the first event"
            self._hold_cadence(segment, _cadence_of(last) if last else self.keys.cadence, where, None, closed=False)
        return self.findings

    def _valid_checkpoints(self, rows: list[dict]) -> list[dict]:
        """The checkpoints up to the first that is missing, out of order or badly signed."""
        from projections.signing import digest

        valid, previous = [], None
        for cp in rows:
            expected, seq = (previous["seq"] + 1 if previous else 1), cp["seq"]
            problem = None
            if seq != expected:
                problem = (f"checkpoint {expected} is missing (the next one is {seq})" if seq > expected
                           else f"checkpoint {seq} is out of order (repeated)")
            elif cp["previous"] != (previous["hash"] if previous else GENESIS):
                problem = (f"checkpoint {seq} does not follow checkpoint {expected - 1} "
                           "(one was replaced or removed)")
            elif previous is not None and cp["position"] <= previous["position"]:
                problem = (f"checkpoint {seq} is out of order "
                           f"(position {cp['position']} is not after {previous['position']})")
            elif digest(cp) != cp["hash"]:
                problem = f"checkpoint {seq}'s hash does not match what it states"
            elif self.keys.public is not None and not well_signed(self.keys.public, cp):
                problem = f"checkpoint {seq} is badly signed (not by this public key)"
            if problem:
                self.find("checkpoints", cp["position"], problem)
                break
            valid.append(cp)
            previous = cp
        return valid

    def _hold_checkpoint(self, cp: dict, head: str, count: int) -> None:
        position, seq = cp["position"], cp["seq"]
        if cp["head"] != head:
            self.find("checkpoint", position,
                      f"history up to position {position} differs from signed checkpoint {seq}")
        elif cp["events"] != count:
            self.find("checkpoint", position,
                      f"checkpoint {seq} counted {cp['events']} events up to position {position}; "
                      f"the store holds {count}")

    def _hold_cadence(self, segment: list, cadence: Cadence, where: str, position: int | None,
                      closed: bool) -> None:
        """A closed segment may hold `events` events, all but its last within `seconds` of its first;
        the open tail after the newest valid checkpoint must stay under both. Else checkpoints are missing."""
        limit = cadence.events if closed else cadence.events - 1
        first, early = segment[0], (segment[:-1] if closed else segment)
        spread = max(((t - first).total_seconds() for t in early if t is not None and first is not None),
                     default=0)
        if len(segment) > limit or spread >= cadence.seconds:
            self.find("cadence", position,
                      f"a checkpoint is missing: {len(segment)} events over {spread:.0f} s {where} "
                      f"(the cadence is one every {cadence.events} events or {cadence.seconds} s)")


class _Cursor:
    """A position-ordered row stream, advanced alongside the log (a merge join)."""

    def __init__(self, rows: Iterator[dict]):
        self._rows = rows
        self.current = next(rows, None)

    def before(self, position: int) -> Iterator[dict]:
        while self.current is not None and self.current["position"] < position:
            yield self.current
            self.current = next(self._rows, None)

    def at(self, position: int) -> dict | None:
        if self.current is None or self.current["position"] != position:
            return None
        row, self.current = self.current, next(self._rows, None)
        return row

    def rest(self) -> Iterator[dict]:
        yield from self.before(2**63)


def _decoded(app, notification):
    try:
        return app.mapper.to_domain_event(notification)
    except Exception:  # noqa: BLE001 - a rewritten row may not decode; the chain names it
        return None


def _cadence_of(checkpoint: dict) -> Cadence:
    return Cadence(checkpoint["every_events"], checkpoint["every_seconds"])


def hold_anchor(db: Database, published: dict, keys: AuditKeys | None) -> list[Finding]:
    """A published anchor holds when the store still has each of its checkpoints, unchanged (the
    store extends it when, besides, `verify` finds nothing)."""
    keys = keys or AuditKeys()
    findings = []
    for context, cp in published.get("checkpoints", {}).items():
        cp = {"format": FORMAT, **cp}
        if keys.public is not None and not well_signed(keys.public, cp):
            findings.append(Finding(context, cp["position"],
                                    f"the anchor's checkpoint {cp['seq']} is not signed by this public key"))
            continue
        rows = db.rows("SELECT * FROM audit_checkpoints WHERE context = %s AND seq = %s", (context, cp["seq"]))
        if not rows:
            findings.append(Finding(context, cp["position"], f"the store no longer holds anchored checkpoint "
                                    f"{cp['seq']} (history after it was cut off or removed)"))
        elif as_checkpoint(rows[0])["hash"] != cp["hash"]:
            findings.append(Finding(context, cp["position"], f"the store's checkpoint {cp['seq']} is not the "
                                    "anchored one (history was rewritten and signed again)"))
    return findings
