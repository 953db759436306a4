"""Personal data encrypted per person, so that a person can be forgotten while history verifies.

The fields `domain.personal` names are stored as AES-GCM ciphertext under a key of their own
person (`cryptography`); the keys live in `person_keys`, beside the read models and never in an
event. Erasing a person destroys the key: the stored bytes stay as they were (so every chain
hash, signed checkpoint and export still verifies), and the fields decode as `已删除`.

This rides on the library's own hooks: a `Transcoding` for sealed values (what the
JSONTranscoder calls for a type it does not know), and a `Mapper` that marks the personal fields
before the transcoder runs. The library's `Cipher` encrypts a whole event under one key, which
cannot forget one person, so the per-field sealing is ours (docs/audit.md, "Erasure").
"""
import base64
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import Application
from eventsourcing.persistence import EventStore, JSONTranscoder, Mapper, Transcoding

from domain.personal import ERASED, personal_fields, personal_reason
from projections.db import Database

PERSON_KEYS_DDL = (
    """CREATE TABLE IF NOT EXISTS person_keys (
        person_id TEXT PRIMARY KEY, key BYTEA, created_at TEXT NOT NULL, erased_at TEXT)""",
    # the erased are few: counting them every second reads this small index, not every key
    "CREATE INDEX IF NOT EXISTS person_keys_erased ON person_keys (person_id) WHERE erased_at IS NOT NULL",
)
REFRESH_SECONDS = 1.0  # how soon a process forgets a person another process erased
CACHE_SIZE = 50_000  # keys a process keeps (about 8 MB); the oldest goes first
SEALED = "_personal_"  # how the audit index marks a sealed value in its `data`


class Personal(str):
    """A personal field as decoded: its text (or `已删除`), and the sealed form it was stored as,
    which the audit index keeps instead of the text."""

    sealed: dict

    def __new__(cls, text: str, sealed: dict) -> "Personal":
        value = super().__new__(cls, text)
        value.sealed = sealed
        return value

    def __reduce__(self):
        return Personal, (str(self), self.sealed)

    def __deepcopy__(self, memo) -> "Personal":
        return self  # as immutable as the text


class _Sealing:
    """A personal field on its way to the store."""

    def __init__(self, person: str, text: str):
        self.person, self.text = person, text


class KeyStore:
    """The per-person keys. Keys are cached in the process; every `REFRESH_SECONDS` at most, a
    process looks whether anyone was erased since, and if so drops its keys and tells its
    listeners (the contexts drop the aggregates they decoded)."""

    def __init__(self, db: Database, create: bool = True):
        self.db = db
        self._keys: dict[str, bytes | None] = {}
        self._erased: int | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        if create:
            with db.transaction() as tx:
                for statement in PERSON_KEYS_DDL:
                    tx.execute(statement)

    def on_erasure(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def key_of(self, person: str) -> bytes | None:
        """The person's key, or None when erased (or never given one)."""
        if person not in self._keys:
            rows = self.db.rows("SELECT key FROM person_keys WHERE person_id = %s", (person,))
            self._remember(person, bytes(rows[0]["key"]) if rows and rows[0]["key"] is not None else None)
        return self._keys.get(person)

    def key_for(self, person: str) -> bytes | None:
        """The key to seal the person's data with, made on first use; None once they are erased."""
        if self._keys.get(person) is None:
            self.make_keys({person})
        return self._keys.get(person)

    def make_keys(self, persons: set[str]) -> None:
        """Make the keys a save will need, all in one transaction (a bulk seed makes thousands)."""
        missing = sorted(p for p in persons if self._keys.get(p) is None)
        if not missing:
            return
        with self.db.transaction() as tx:
            if self.db.dialect == "postgres":
                # no wait for this commit's flush: the event sealed with the key commits after it, and
                # PostgreSQL flushes the log in order, so the key is on disk whenever the event is
                tx.execute("SET LOCAL synchronous_commit = off")
            tx.executemany("INSERT INTO person_keys (person_id, key, created_at) VALUES (%s, %s, %s) "
                           "ON CONFLICT (person_id) DO NOTHING",
                           [(p, AESGCM.generate_key(256), _now()) for p in missing])
            rows = tx.rows(f"SELECT person_id, key FROM person_keys WHERE person_id IN "
                           f"({', '.join(['%s'] * len(missing))})", missing)
        for row in rows:
            self._remember(row["person_id"], None if row["key"] is None else bytes(row["key"]))

    def erase(self, person: str) -> None:
        """Destroy the person's key (for good: no backup of it is kept anywhere)."""
        now = _now()
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO person_keys (person_id, key, created_at, erased_at) VALUES (%s, NULL, %s, %s) "
                       "ON CONFLICT (person_id) DO UPDATE SET key = NULL, "
                       "erased_at = COALESCE(person_keys.erased_at, excluded.erased_at)", (person, now, now))
        self.forget()

    def refresh(self) -> None:
        """Forget what this process decoded if someone was erased since the last look (cheap:
        one small query a second at most)."""
        if time.monotonic() - self._checked < REFRESH_SECONDS:
            return
        with self._lock:
            if time.monotonic() - self._checked < REFRESH_SECONDS:
                return
            erased = self.db.rows("SELECT COUNT(*) AS n FROM person_keys WHERE erased_at IS NOT NULL")[0]["n"]
            self._checked = time.monotonic()
            if self._erased is not None and erased != self._erased:
                self.forget()
            self._erased = erased

    def _remember(self, person: str, key: bytes | None) -> None:
        keys = self._keys
        if len(keys) >= CACHE_SIZE:
            try:
                keys.pop(next(iter(keys)))
            except (StopIteration, KeyError, RuntimeError):
                pass  # another thread trimmed it meanwhile
        keys[person] = key

    def forget(self) -> None:
        """Drop the cached keys and tell the listeners (after an erasure, or a test that empties the store)."""
        self._keys = {}
        for listener in self._listeners:
            listener()

    def seal(self, person: str, text: str) -> dict:
        key = self.key_for(person)
        if key is None:
            return {"person": person}  # erased already: nothing of it is stored
        nonce = os.urandom(12)
        box = AESGCM(key).encrypt(nonce, text.encode(), person.encode())
        return {"person": person, "nonce": _b64(nonce), "box": _b64(box)}

    def open(self, sealed: dict) -> str:
        """The sealed text, or 已删除 when its key is gone (or it was never sealed with it: anything that
        only looks sealed opens to nothing)."""
        try:
            person, nonce, box = sealed["person"], sealed.get("nonce"), sealed.get("box")
            if not all(isinstance(part, str) for part in (person, nonce, box)):
                return ERASED
            UUID(person)  # people are members, named by their ids; anything else raises ValueError
            key = self.key_of(person)
            if key is None:
                return ERASED
            return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(box), person.encode()).decode()
        except (InvalidTag, KeyError, TypeError, ValueError, AttributeError):
            return ERASED


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PersonalValues(Transcoding):
    """How a personal field is stored: `{"person", "nonce", "box"}` (JSON, inside the event)."""

    type = _Sealing
    name = "personal"

    def __init__(self, keys: KeyStore):
        self.keys = keys

    def encode(self, obj: _Sealing) -> dict:
        return self.keys.seal(obj.person, obj.text)

    def decode(self, data: dict) -> Personal:
        return Personal(self.keys.open(data), data)


class PersonalMapper(Mapper):
    """The library's mapper, with each personal field handed to `PersonalValues` to seal.
    Events stored before sealing existed hold plain text and decode as before."""

    def to_stored_event(self, domain_event):
        fields, giver = personal_fields(domain_event), personal_reason(domain_event)
        if fields or giver:
            state = vars(domain_event)
            marked = {name: _Sealing(person, state[name]) for name, person in fields.items()}
            if giver:
                marked["meta"] = {**state["meta"], "reason": _Sealing(giver, state["meta"]["reason"])}
            copy = object.__new__(type(domain_event))
            object.__setattr__(copy, "__dict__", {**state, **marked})
            domain_event = copy
        return super().to_stored_event(domain_event)


class SealingEventStore(EventStore):
    """The library's event store, making the keys a save needs in one go before the mapper seals."""

    def __init__(self, mapper: Mapper, recorder, keys: KeyStore):
        super().__init__(mapper, recorder)
        self.keys = keys

    def put(self, domain_events, **kwargs):
        domain_events = list(domain_events)
        self.keys.make_keys({p for e in domain_events for p in (*personal_fields(e).values(), personal_reason(e))
                             if p})
        return super().put(domain_events, **kwargs)


def install(app: Application, keys: KeyStore) -> None:
    """Give a context the sealing mapper and event store (the library builds its own while the
    Application is constructed, before the key store can be handed to it)."""
    transcoder = app.mapper.transcoder
    assert isinstance(transcoder, JSONTranscoder)
    transcoder.register(PersonalValues(keys))
    mapper = PersonalMapper(transcoder, compressor=app.mapper.compressor, cipher=app.mapper.cipher)
    app.mapper = mapper
    app.events = app.repository.event_store = SealingEventStore(mapper, app.recorder, keys)
    if app.snapshots is not None:
        app.snapshots.mapper = mapper
