"""Bearer tokens, stored hashed, each bound to a role and a subject id, with a life: each expires
(90 days unless asked otherwise) and can be revoked.

Resolving a token costs no database round trip on the hot path: each process keeps what it read
of a token for at most CACHE_SECONDS, so a revoked token stops working on every process within
that bound (an expired one at once: its expiry is cached with it).
"""
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import uuid4

from fastapi import Depends, Request

from domain.actors import Actor, Role
from domain.errors import ForbiddenError, NotFoundError, Unauthenticated
from projections.db import Database

TOKENS_DDL = """CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject_id TEXT NOT NULL, name TEXT NOT NULL,
    created_at TEXT NOT NULL)"""
# added after the first release; a store from before gets them at start-up (see _migrate)
LIFE_COLUMNS = ("id", "expires_at", "revoked_at", "revoke_reason")
LISTED = "id, role, subject_id, name, created_at, expires_at, revoked_at, revoke_reason"
CACHE_SECONDS = 1.0
CACHE_SIZE = 10_000
BOOTSTRAP = "bootstrap-admin"  # the identity of LINLI_ADMIN_TOKEN
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Holder:
    """Who a token speaks for, and until when."""

    token_id: str
    actor: Actor
    expires_at: datetime | None
    revoked: bool

    def valid(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or now < self.expires_at)


class TokenStore:
    def __init__(self, db: Database, create: bool = True):
        self.db = db
        self._cache: dict[str, tuple[float, Holder | None]] = {}
        self._lock = threading.Lock()
        if create:
            with db.transaction() as tx:
                tx.execute(TOKENS_DDL)
            self._migrate()

    def _migrate(self) -> None:
        if self.db.dialect == "postgres":
            have = {r["name"] for r in self.db.rows(
                "SELECT column_name AS name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'tokens'")}
        else:
            have = {r["name"] for r in self.db.rows("PRAGMA table_info(tokens)")}
        with self.db.transaction() as tx:
            for column in (c for c in LIFE_COLUMNS if c not in have):
                tx.execute(f"ALTER TABLE tokens ADD COLUMN {column} TEXT")
            legacy = tx.rows("SELECT hash FROM tokens WHERE id IS NULL")
            expires = (datetime.now(UTC) + timedelta(days=90)).isoformat()
            tx.executemany("UPDATE tokens SET id = %s, expires_at = %s WHERE hash = %s",
                           [(str(uuid4()), expires, r["hash"]) for r in legacy])

    def mint(self, role: Role, subject_id: str, name: str, expires_in_days: int, now: datetime) -> dict:
        """A new token: its record, and the secret itself (shown once; only its hash is kept)."""
        token, token_id = secrets.token_urlsafe(32), str(uuid4())
        created, expires = now.astimezone(UTC), now.astimezone(UTC) + timedelta(days=expires_in_days)
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO tokens (hash, id, role, subject_id, name, created_at, expires_at) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                       (_hash(token), token_id, role.value, subject_id, name, created.isoformat(), expires.isoformat()))
        return {"id": token_id, "token": token, "role": role.value, "subject_id": subject_id, "name": name,
                "created_at": created.isoformat(), "expires_at": expires.isoformat()}

    def create(self, role: Role, subject_id: str, name: str, expires_in_days: int = 90) -> str:
        return self.mint(role, subject_id, name, expires_in_days, datetime.now(UTC))["token"]

    def listing(self, limit: int, offset: int) -> tuple[int, list[dict]]:
        total = self.db.rows("SELECT COUNT(*) AS n FROM tokens")[0]["n"]
        rows = self.db.rows(f"SELECT {LISTED} FROM tokens ORDER BY created_at, id LIMIT %s OFFSET %s", (limit, offset))
        return total, rows

    def revoke(self, token_id: str, reason: str, now: datetime) -> dict:
        """Revoke a token (again is a no-op that keeps the first revocation)."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE tokens SET revoked_at = %s, revoke_reason = %s WHERE id = %s AND revoked_at IS NULL",
                       (now.astimezone(UTC).isoformat(), reason, token_id))
            rows = tx.rows(f"SELECT hash, {LISTED} FROM tokens WHERE id = %s", (token_id,))
        if not rows:
            raise NotFoundError(f"no token {token_id}")
        self._cache.pop(rows[0].pop("hash"), None)  # this process refuses it at once; others within a second
        return rows[0]

    def revoke_subject(self, role: Role, subject_id: str, reason: str, now: datetime) -> None:
        """Revoke every token held as this subject (an erased member acts no more)."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE tokens SET revoked_at = %s, revoke_reason = %s "
                       "WHERE role = %s AND subject_id = %s AND revoked_at IS NULL",
                       (now.astimezone(UTC).isoformat(), reason, role.value, subject_id))
        self._cache.clear()  # this process refuses them at once; others within a second

    def holder(self, token: str) -> Holder | None:
        """The token's holder as this process last read it (at most CACHE_SECONDS ago)."""
        key, moment = _hash(token), time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and moment - cached[0] < CACHE_SECONDS:
            return cached[1]
        rows = self.db.rows("SELECT id, role, subject_id, expires_at, revoked_at FROM tokens WHERE hash = %s", (key,))
        found = None
        if rows:
            row = rows[0]
            found = Holder(row["id"], Actor(row["subject_id"], Role(row["role"])),
                           datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
                           row["revoked_at"] is not None)
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (moment, found)
        return found


def caller(request: Request) -> Holder | None:
    """The request's token holder (None without an Authorization header); resolved once per request."""
    state = request.scope.setdefault("state", {})
    if "holder" not in state:
        state["holder"] = _resolve(request)
    return state["holder"]


def _resolve(request: Request) -> Holder | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use 'Authorization: Bearer <token>'")
    return holder_for(request.app.state.linli, token.strip())


def holder_for(system, token: str) -> Holder:
    """Who a token speaks for (also Open311's `api_key`); Unauthenticated when nobody valid."""
    admin_token = system.settings.admin_token
    if admin_token is not None and hmac.compare_digest(token.encode(), admin_token.get_secret_value().encode()):
        return Holder(BOOTSTRAP, Actor("admin", Role.ADMIN), None, False)
    holder = system.tokens.holder(token)
    if holder is None:
        raise Unauthenticated("unknown token")
    if not holder.valid(datetime.now(UTC)):
        raise Unauthenticated("this token has expired or was revoked")
    return holder


def optional_actor(request: Request) -> Actor | None:
    holder = caller(request)
    actor = holder.actor if holder else None
    if actor is not None and actor.role is Role.AUDITOR and request.method not in READ_METHODS:
        raise ForbiddenError("auditors read; nothing they do changes state")
    return actor


async def required_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    """Async: no I/O here (the token lookup is `optional_actor`'s), so no thread-pool hop."""
    if actor is None:
        raise Unauthenticated("this needs 'Authorization: Bearer <token>'")
    return actor


MaybeActor = Annotated[Actor | None, Depends(optional_actor)]
CurrentActor = Annotated[Actor, Depends(required_actor)]
