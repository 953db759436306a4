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
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from projections.db import Database, Tx
from projections.projector import View, iso
from projections.signing import FORMAT, AuditKeys, Cadence, seal, well_signed

GENESIS = "0" * 64
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
            head TEXT NOT NULL, events BIGINT NOT NULL, every_events BIGINT NOT NULL, every_seconds BIGINT NOT NULL,
            hash TEXT NOT NULL, signature TEXT NOT NULL, PRIMARY KEY (context, position))""",
    )

    def __init__(self, keys: AuditKeys | None = None):
        self.keys = keys or AuditKeys()
        self._previous = GENESIS
        self._entries: list[tuple] = []
        self._checkpoints: list[dict] = []
        self._tails: dict[str, _Tail] = {}  # per context, as of this process's last committed batch
        self._signing: _Tail | None = None

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
        known = self._tails.get(context)
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
                          "ORDER BY position LIMIT 1) AS started FROM audit_chain WHERE context = %s AND position > %s",
                          (context, after, context, after))[0]
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
        tx.executemany("INSERT INTO audit_chain (context, position, hash, at) VALUES (%s, %s, %s, %s)", self._entries)
        tx.executemany(f"INSERT INTO audit_checkpoints ({', '.join(CHECKPOINT_COLUMNS)}) "
                       f"VALUES ({', '.join(['%s'] * len(CHECKPOINT_COLUMNS))})",
                       [tuple(cp[k] for k in CHECKPOINT_COLUMNS) for cp in self._checkpoints])
        if self._signing is not None:  # a halted signer keeps what it saw, so it stays halted
            self._tails[context] = self._signing
        self._entries, self._checkpoints = [], []


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
    state = notification.state
    return bytes(state) if isinstance(state, bytes | bytearray | memoryview) else str(state).encode()  # tampered rows may be text


def paged(db: Database, table: str, context: str, columns: str = "*", page: int = 5000) -> Iterator[dict]:
    """A table's rows of one context in position order, a page at a time (keyset paging)."""
    after = -1
    while True:
        rows = db.rows(f"SELECT {columns} FROM {table} WHERE context = %s AND position > %s ORDER BY position LIMIT %s",
                       (context, after, page))
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1]["position"]


def checkpoints(db: Database, context: str) -> list[dict]:
    return [as_checkpoint(r) for r in db.rows("SELECT * FROM audit_checkpoints WHERE context = %s ORDER BY seq, position",
                                              (context,))]


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
            inside = entry is not None and (since is None or entry["at"] >= since) and (until is None or entry["at"] <= until)
            if inside:
                yield {"context": context, "position": position, "originator_id": originator_id, "version": version,
                       "topic": topic, "at": entry["at"], "state": base64.b64encode(state).decode(),
                       "prev_hash": previous, "hash": entry["hash"]}
                if position in signed:
                    yield {"checkpoint": signed[position]}
            previous = entry["hash"] if entry else previous


@dataclass
class _Walk:
    """One context's log as verification walks it."""

    context: str
    cadence: Cadence
    findings: list[Finding] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)

    def find(self, kind: str, position: int | None, problem: str) -> None:
        """The first finding of each kind: later ones of the same kind follow from it."""
        if kind not in self.kinds:
            self.kinds.add(kind)
            self.findings.append(Finding(self.context, position, problem))


def verify(db: Database, contexts: dict, keys: AuditKeys | None) -> list[Finding]:
    """Recompute each context's chain from its event store and hold every checkpoint, the cadence
    and the audit index against it. Reads only."""
    from projections.audit import index_differences

    keys = keys or AuditKeys()
    findings = []
    for context, app in contexts.items():
        walk = _Walk(context, keys.cadence)
        signed = _valid_checkpoints(walk, checkpoints(db, context), keys)
        enforce = keys.public is not None or bool(signed) or bool(walk.findings)
        at_position = {cp["position"]: cp for cp in signed}
        chain = paged(db, "audit_chain", context, "position, hash")
        index = paged(db, "audit_events", context)
        stored_chain = next(chain, None)
        stored_index = next(index, None)
        previous, count, segment, last_checkpoint = GENESIS, 0, [], None
        for notification in notifications(app):
            position = notification.id
            previous = entry_hash(previous, position, str(notification.originator_id),
                                  notification.originator_version, notification.topic, stored_bytes(notification))
            count += 1
            try:
                event = app.mapper.to_domain_event(notification)
            except Exception:  # noqa: BLE001 - a rewritten row may not decode; the chain names it
                event = None
            while stored_chain is not None and stored_chain["position"] < position:
                walk.find("chain", stored_chain["position"], "an event recorded in the chain is missing from the store")
                stored_chain = next(chain, None)
            if stored_chain is not None and stored_chain["position"] == position:
                if stored_chain["hash"] != previous:
                    walk.find("chain", position, "the stored event no longer matches its chain entry")
                stored_chain = next(chain, None)
            elif stored_chain is not None:
                walk.find("chain", position, "an event in the store was never chained")
            while stored_index is not None and stored_index["position"] < position:
                walk.find("index", stored_index["position"], "an audit index row has no event in the store")
                stored_index = next(index, None)
            if stored_index is not None and stored_index["position"] == position:
                if event is not None and (diff := index_differences(stored_index, context, notification, event)):
                    walk.find("index", position, f"the audit index differs from the event ({', '.join(diff)})")
                stored_index = next(index, None)
            segment.append(event.timestamp if event is not None else None)
            checkpoint = at_position.pop(position, None)
            if checkpoint is not None:
                if checkpoint["head"] != previous:
                    walk.find("checkpoint", position, f"history up to position {position} differs from signed "
                                                      f"checkpoint {checkpoint['seq']}")
                elif checkpoint["events"] != count:
                    walk.find("checkpoint", position, f"checkpoint {checkpoint['seq']} counted {checkpoint['events']} "
                                                      f"events up to position {position}; the store holds {count}")
                if last_checkpoint is not None:
                    _hold_cadence(walk, segment, _cadence_of(checkpoint), position, closed=True)
                last_checkpoint, segment = checkpoint, []
        for checkpoint in at_position.values():
            walk.find("checkpoint", checkpoint["position"], f"checkpoint {checkpoint['seq']} signs position "
                                                            f"{checkpoint['position']}, which the store no longer holds")
        if stored_chain is not None:
            walk.find("chain", stored_chain["position"], "an event recorded in the chain is missing from the store")
        if enforce and segment:
            cadence = _cadence_of(last_checkpoint) if last_checkpoint else keys.cadence
            _hold_cadence(walk, segment, cadence, None, closed=False,
                          since=f"checkpoint {last_checkpoint['seq']}" if last_checkpoint else "the first event")
        findings.extend(walk.findings)
    return findings


def _cadence_of(checkpoint: dict) -> Cadence:
    return Cadence(checkpoint["every_events"], checkpoint["every_seconds"])


def _valid_checkpoints(walk: _Walk, rows: list[dict], keys: AuditKeys) -> list[dict]:
    """The checkpoints up to the first that is missing, out of order or badly signed."""
    from projections.signing import digest

    valid, previous = [], None
    for cp in rows:
        expected = previous["seq"] + 1 if previous else 1
        problem = None
        if cp["seq"] != expected:
            problem = (f"checkpoint {expected} is missing (the next one is {cp['seq']})" if cp["seq"] > expected
                       else f"checkpoint {cp['seq']} is out of order (repeated)")
        elif cp["previous"] != (previous["hash"] if previous else GENESIS):
            problem = f"checkpoint {cp['seq']} does not follow checkpoint {expected - 1} (one was replaced or removed)"
        elif previous is not None and cp["position"] <= previous["position"]:
            problem = f"checkpoint {cp['seq']} is out of order (position {cp['position']} is not after {previous['position']})"
        elif digest(cp) != cp["hash"]:
            problem = f"checkpoint {cp['seq']}'s hash does not match what it states"
        elif keys.public is not None and not well_signed(keys.public, cp):
            problem = f"checkpoint {cp['seq']} is badly signed (not by this public key)"
        if problem:
            walk.find("checkpoints", cp["position"], problem)
            break
        valid.append(cp)
        previous = cp
    return valid


def _hold_cadence(walk: _Walk, segment: list, cadence: Cadence, position: int | None, closed: bool,
                  since: str = "") -> None:
    """A closed segment may hold `events` events, and all but its last lie within `seconds` of its first;
    the open tail after the newest valid checkpoint must stay under both (else checkpoints are missing)."""
    limit = cadence.events if closed else cadence.events - 1
    early = segment[:-1] if closed else segment
    first = segment[0]
    spread = max(((t - first).total_seconds() for t in early if t is not None and first is not None), default=0)
    if len(segment) > limit or spread >= cadence.seconds:
        where = f"before checkpoint at position {position}" if closed else f"after {since}"
        walk.find("cadence", position, f"a checkpoint is missing: {len(segment)} events over {spread:.0f} s {where} "
                                       f"(the cadence is one every {cadence.events} events or {cadence.seconds} s)")


def hold_anchor(db: Database, published: dict, keys: AuditKeys | None) -> list[Finding]:
    """A published anchor holds when the store still has each of its checkpoints, unchanged (the
    store extends it when, besides, `verify` finds nothing)."""
    keys = keys or AuditKeys()
    findings = []
    for context, cp in published.get("checkpoints", {}).items():
        cp = {"format": FORMAT, **cp}
        if keys.public is not None and not well_signed(keys.public, cp):
            findings.append(Finding(context, cp["position"], f"the anchor's checkpoint {cp['seq']} is not signed by "
                                                             "this public key"))
            continue
        rows = db.rows("SELECT * FROM audit_checkpoints WHERE context = %s AND seq = %s", (context, cp["seq"]))
        if not rows:
            findings.append(Finding(context, cp["position"], f"the store no longer holds anchored checkpoint "
                                                             f"{cp['seq']} (history after it was cut off or removed)"))
        elif as_checkpoint(rows[0])["hash"] != cp["hash"]:
            findings.append(Finding(context, cp["position"], f"the store's checkpoint {cp['seq']} is not the anchored "
                                                             "one (history was rewritten and signed again)"))
    return findings
