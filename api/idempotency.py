"""Idempotency-Key on every POST: a retry with the same key and request gets the first response
again (with `Idempotent-Replayed: true`); the same key with another request is refused (422).

The key is reserved atomically before the command runs, so two concurrent requests with one key
never both run it: the second waits for the first reply (up to WAIT_SECONDS, then 409
`idempotency-in-progress` with Retry-After). Keys are scoped to the token's identity (its id),
and only authenticated requests reserve any (an anonymous or unknown caller is refused by the
route and stores nothing). The fingerprint covers method, path, query, If-Match and body.
Replies below 500 are kept for LINLI_IDEMPOTENCY_TTL_HOURS (24 h); a server failure releases the
key so a retry runs for real, and a reservation whose process died is taken over after
ABANDONED_SECONDS.
"""
import asyncio
import hashlib
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg_pool import PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import caller
from api.errors import problem
from domain.errors import Unauthenticated
from projections.db import Database

IDEMPOTENCY_DDL = """CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    headers TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (scope, key))"""
KEPT_HEADERS = ("content-type", "etag", "location")
UNAVAILABLE = (psycopg.OperationalError, PoolTimeout, PersistenceError)
RESERVED = 0  # the status of a key whose command is still running
WAIT_SECONDS = 10.0
ABANDONED_SECONDS = 60.0
PURGE_EVERY_SECONDS = 60.0


class IdempotencyStore:
    def __init__(self, db: Database, create: bool = True):
        self.db = db
        self._purged = 0.0
        if create:
            with db.transaction() as tx:
                tx.execute(IDEMPOTENCY_DDL)

    def reserve(self, scope: str, key: str, fingerprint: str, ttl: timedelta) -> tuple[str | None, dict]:
        """Reserve the key for one request: (its reservation, the row) when reserved now, else
        (None, the row another request holds). An expired reply or an abandoned reservation of
        this key is replaced."""
        now = datetime.now(UTC)
        reservation = json.dumps({"reserved": secrets.token_hex(8)})
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM idempotency WHERE scope = %s AND key = %s AND (created_at < %s OR "
                       "(status = %s AND created_at < %s))",
                       (scope, key, (now - ttl).isoformat(), RESERVED,
                        (now - timedelta(seconds=ABANDONED_SECONDS)).isoformat()))
            tx.execute("INSERT INTO idempotency (scope, key, fingerprint, status, headers, body, created_at) "
                       "VALUES (%s, %s, %s, %s, %s, '', %s) ON CONFLICT (scope, key) DO NOTHING",
                       (scope, key, fingerprint, RESERVED, reservation, now.isoformat()))
            row = tx.rows("SELECT fingerprint, status, headers, body FROM idempotency WHERE scope = %s AND key = %s",
                          (scope, key))[0]
        return (reservation if row["headers"] == reservation else None), row

    def get(self, scope: str, key: str) -> dict | None:
        rows = self.db.rows("SELECT fingerprint, status, headers, body FROM idempotency WHERE scope = %s AND key = %s",
                            (scope, key))
        return rows[0] if rows else None

    def complete(self, scope: str, key: str, reservation: str, status: int, headers: dict, body: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("UPDATE idempotency SET status = %s, headers = %s, body = %s "
                       "WHERE scope = %s AND key = %s AND headers = %s",
                       (status, json.dumps(headers), body, scope, key, reservation))

    def release(self, scope: str, key: str, reservation: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM idempotency WHERE scope = %s AND key = %s AND headers = %s",
                       (scope, key, reservation))

    def forget_replies_naming(self, subject_id: str) -> None:
        """Forget the stored replies that name this id (a forgotten member's registration, claims and
        bookings), so that no replay shows what an erasure removed; a retry then runs again."""
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM idempotency WHERE status <> %s AND body LIKE %s", (RESERVED, f"%{subject_id}%"))

    def purge(self, ttl: timedelta) -> None:
        """Forget expired replies, at most once a minute per process."""
        if time.monotonic() - self._purged < PURGE_EVERY_SECONDS:
            return
        self._purged = time.monotonic()
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM idempotency WHERE status <> %s AND created_at < %s",
                       (RESERVED, (datetime.now(UTC) - ttl).isoformat()))


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()


def _replay(row: dict) -> Response:
    return Response(row["body"], row["status"], headers={**json.loads(row["headers"]), "Idempotent-Replayed": "true"})


def _unavailable() -> Response:
    return problem(503, "unavailable", "the database is unreachable; try again shortly", headers={"Retry-After": "2"})


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        request = Request(scope, receive)
        key = request.headers.get("idempotency-key")
        if not key:
            return await self.app(scope, receive, send)
        if len(key) > 200:
            return await problem(422, "validation", "Idempotency-Key is longer than 200 characters")(scope, receive, send)
        try:
            holder = await run_in_threadpool(caller, request)
        except Unauthenticated:
            holder = None
        except UNAVAILABLE:
            return await _unavailable()(scope, receive, send)
        if holder is None:  # the route refuses it (401); nothing is kept for it
            return await self.app(scope, receive, send)
        store: IdempotencyStore = scope["app"].state.linli.idempotency
        ttl = timedelta(hours=scope["app"].state.linli.settings.idempotency_ttl_hours)
        body = await request.body()
        fingerprint = _digest(scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""),
                              request.headers.get("if-match", "").encode(), body)
        try:
            reservation, row = await self._reserve(store, holder.token_id, key, fingerprint, ttl)
        except UNAVAILABLE:
            return await _unavailable()(scope, receive, send)
        if reservation is None:
            if row is None:
                response = problem(409, "idempotency-in-progress", "a request with this Idempotency-Key is still "
                                   "running; retry shortly", headers={"Retry-After": "1"})
            elif row["fingerprint"] != fingerprint:
                response = problem(422, "idempotency-key-reused", "this Idempotency-Key was used with a different request")
            else:
                response = _replay(row)
            return await response(scope, receive, send)
        await self._run(scope, body, send, store, holder.token_id, key, reservation, ttl)

    @staticmethod
    async def _reserve(store: IdempotencyStore, identity: str, key: str, fingerprint: str,
                       ttl: timedelta) -> tuple[str | None, dict | None]:
        """Our reservation, or the finished (or differently fingerprinted) row another request
        holds, or (None, None) when another request still runs it after WAIT_SECONDS."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            reservation, row = await run_in_threadpool(store.reserve, identity, key, fingerprint, ttl)
            if reservation is not None or row["status"] != RESERVED or row["fingerprint"] != fingerprint:
                return reservation, row
            if time.monotonic() > deadline:
                return None, None
            await asyncio.sleep(0.05)

    async def _run(self, scope: Scope, body: bytes, send: Send, store: IdempotencyStore, identity: str, key: str,
                   reservation: str, ttl: timedelta) -> None:
        async def replay_body() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        captured: dict = {"body": b"", "status": 500}

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
                if not message.get("more_body"):
                    await self._settle(store, identity, key, reservation, captured, ttl)
            await send(message)

        try:
            await self.app(scope, replay_body, capture)
        except BaseException:
            await run_in_threadpool(store.release, identity, key, reservation)
            raise

    @staticmethod
    async def _settle(store: IdempotencyStore, identity: str, key: str, reservation: str, captured: dict,
                      ttl: timedelta) -> None:
        """Keep a reply below 500; release the key after a server failure, so a retry runs for real."""
        try:
            if captured["status"] < 500:
                headers = {k: v for k, v in captured["headers"].items() if k in KEPT_HEADERS}
                await run_in_threadpool(store.complete, identity, key, reservation, captured["status"], headers,
                                        captured["body"].decode())
            else:
                await run_in_threadpool(store.release, identity, key, reservation)
            await run_in_threadpool(store.purge, ttl)
        except UNAVAILABLE:
            pass  # the command's reply still goes out; a retry re-runs it idempotently by id
