"""Tamper evidence: a hash chain over each context's stored events, with signed checkpoints.

Each entry's hash covers the previous entry's hash and the stored event's position,
aggregate id, version, topic and bytes. Verification recomputes the chain from the event
store and reports the first position where stored history and chain disagree. Whoever can
write the database could rewrite events *and* chain together, so checkpoints carry an HMAC
made with LINLI_AUDIT_KEY, which never enters the database: a rewrite without the key
breaks a checkpoint. Events after the newest checkpoint are only as safe as the chain.

The entry format is also what `linli audit export` writes and `projections.verify_export`
(standard library only) rechecks.
"""
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from projections.db import Database, Tx
from projections.projector import View

GENESIS = "0" * 64


def entry_hash(previous: str, position: int, originator_id: str, version: int, topic: str, state: bytes) -> str:
    h = hashlib.sha256()
    for part in (previous, str(position), str(originator_id), str(version), topic):
        h.update(part.encode())
        h.update(b"\x1f")
    h.update(state)
    return h.hexdigest()


def sign(key: bytes, context: str, position: int, digest: str) -> str:
    return hmac.new(key, f"{context}|{position}|{digest}".encode(), hashlib.sha256).hexdigest()


class AuditChain(View):
    name = "audit_chain"
    rebuilt_by_default = False
    tables = ("audit_chain", "audit_checkpoints")
    ddl = (
        """CREATE TABLE IF NOT EXISTS audit_chain (
            context TEXT NOT NULL, position BIGINT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (context, position))""",
        """CREATE TABLE IF NOT EXISTS audit_checkpoints (
            context TEXT NOT NULL, position BIGINT NOT NULL, hash TEXT NOT NULL, signature TEXT NOT NULL,
            PRIMARY KEY (context, position))""",
    )

    def __init__(self, key: bytes | None):
        self.key = key
        self._previous = GENESIS
        self._entries: list[tuple] = []

    def begin_batch(self, tx: Tx, context: str) -> None:
        """Read the chain's head once per batch; the view's lock keeps other writers out meanwhile."""
        rows = tx.rows("SELECT hash FROM audit_chain WHERE context = %s ORDER BY position DESC LIMIT 1", (context,))
        self._previous = rows[0]["hash"] if rows else GENESIS
        self._entries = []

    def apply(self, event, tx: Tx, context: str) -> None:
        """The chain needs the stored form: see `record`."""

    def record(self, notification, event, tx: Tx, context: str) -> None:
        digest = self._previous = entry_hash(self._previous, notification.id, str(notification.originator_id),
                            notification.originator_version, notification.topic, bytes(notification.state))
        self._entries.append((context, notification.id, digest))

    def finish_batch(self, tx: Tx, context: str, position: int) -> None:
        """Write the batch's entries, and sign the chain's head: any rewrite at or before it breaks
        this checkpoint."""
        tx.executemany("INSERT INTO audit_chain (context, position, hash) VALUES (%s, %s, %s)", self._entries)
        self._entries = []
        if self.key is None:
            return
        digest = self._previous
        tx.execute("INSERT INTO audit_checkpoints (context, position, hash, signature) VALUES (%s, %s, %s, %s) "
                   "ON CONFLICT (context, position) DO NOTHING",
                   (context, position, digest, sign(self.key, context, position, digest)))


@dataclass
class Finding:
    context: str
    position: int | None
    problem: str


def stored_entries(app, batch: int = 1000) -> Iterator[tuple]:
    """(position, originator_id, version, topic, state) of every stored event, in log order."""
    start = 1
    while True:
        notifications = app.recorder.select_notifications(start, batch)
        for n in notifications:
            state = n.state if isinstance(n.state, bytes) else str(n.state).encode()  # tampered rows may be text
            yield n.id, str(n.originator_id), n.originator_version, n.topic, state
        if len(notifications) < batch:
            return
        start = notifications[-1].id + 1


def export(db: Database, contexts: dict, since: str | None, until: str | None) -> Iterator[dict]:
    """Chain entries with their stored events, for `linli audit export` (times filter by event time)."""
    import base64

    for context, app in contexts.items():
        chain = {r["position"]: r["hash"] for r in db.rows(
            "SELECT position, hash FROM audit_chain WHERE context = %s", (context,))}
        times = {r["position"]: r["at"] for r in db.rows(
            "SELECT position, at FROM audit_events WHERE context = %s", (context,))}
        previous = GENESIS
        for position, originator_id, version, topic, state in stored_entries(app):
            at = times.get(position, "")
            if position in chain and (since is None or at >= since) and (until is None or at <= until):
                yield {"context": context, "position": position, "originator_id": originator_id, "version": version,
                       "topic": topic, "at": at, "state": base64.b64encode(state).decode(), "prev_hash": previous,
                       "hash": chain[position]}
            previous = chain.get(position, previous)


def verify(db: Database, contexts: dict, key: bytes | None) -> list[Finding]:
    """Recompute each context's chain from its event store; report the first disagreement of each."""
    findings = []
    for context, app in contexts.items():
        chain = {r["position"]: r["hash"] for r in db.rows(
            "SELECT position, hash FROM audit_chain WHERE context = %s", (context,))}
        checkpoints = db.rows("SELECT position, hash, signature FROM audit_checkpoints WHERE context = %s "
                              "ORDER BY position", (context,))
        computed, previous = {}, GENESIS
        for position, originator_id, version, topic, state in stored_entries(app):
            previous = computed[position] = entry_hash(previous, position, originator_id, version, topic, state)
        finding = _first_difference(context, chain, computed)
        if finding is None:
            finding = _check_checkpoints(context, checkpoints, computed, key)
        if finding is not None:
            findings.append(finding)
    return findings


def _first_difference(context: str, chain: dict, computed: dict) -> Finding | None:
    for position in sorted(set(chain) | set(computed)):
        if position not in computed:
            return Finding(context, position, "an event recorded in the chain is missing from the store")
        if position not in chain:
            # the newest events may simply not be chained yet; anything before the chain's head is not
            if chain and position < max(chain):
                return Finding(context, position, "an event in the store was never chained")
            continue
        if chain[position] != computed[position]:
            return Finding(context, position, "the stored event no longer matches its chain entry")
    return None


def _check_checkpoints(context: str, checkpoints: list[dict], computed: dict, key: bytes | None) -> Finding | None:
    if key is None:
        return None
    for cp in checkpoints:
        if not hmac.compare_digest(cp["signature"], sign(key, context, cp["position"], cp["hash"])):
            return Finding(context, cp["position"], "a checkpoint's signature does not match (chain rewritten)")
        if computed.get(cp["position"]) != cp["hash"]:
            return Finding(context, cp["position"], "history differs from a signed checkpoint")
    return None
