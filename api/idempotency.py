"""Idempotency-Key on every POST: a retry with the same key and body gets the first response
again (with `Idempotent-Replayed: true`); the same key with another body is refused (422).

Keys are scoped to the caller (a hash of its Authorization header), so two callers cannot
collide. Only responses below 500 are kept: a server failure may be retried for real.
"""
import hashlib
import json
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg_pool import PoolTimeout

from api.errors import problem
from projections.db import Database

IDEMPOTENCY_DDL = """CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    headers TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (scope, key))"""
KEPT_HEADERS = ("content-type", "etag", "location")
UNAVAILABLE = (psycopg.OperationalError, PoolTimeout, PersistenceError)


class IdempotencyStore:
    def __init__(self, db: Database):
        self.db = db
        with db.transaction() as tx:
            tx.execute(IDEMPOTENCY_DDL)

    def get(self, scope: str, key: str) -> dict | None:
        rows = self.db.rows("SELECT fingerprint, status, headers, body FROM idempotency WHERE scope = %s AND key = %s",
                            (scope, key))
        return rows[0] if rows else None

    def put(self, scope: str, key: str, fingerprint: str, status: int, headers: dict, body: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO idempotency (scope, key, fingerprint, status, headers, body, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (scope, key) DO NOTHING",
                (scope, key, fingerprint, status, json.dumps(headers), body, datetime.now(UTC).isoformat()),
            )


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()


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
        store: IdempotencyStore = scope["app"].state.linli.idempotency
        body = await request.body()
        caller = _digest(request.headers.get("authorization", "").encode())
        fingerprint = _digest(scope["path"].encode(), body)
        try:
            stored = await run_in_threadpool(store.get, caller, key)
        except UNAVAILABLE:
            return await problem(503, "unavailable", "the database is unreachable; try again shortly",
                                 headers={"Retry-After": "2"})(scope, receive, send)
        if stored is not None:
            if stored["fingerprint"] != fingerprint:
                response = problem(422, "idempotency-key-reused",
                                   "this Idempotency-Key was used with a different request")
            else:
                response = Response(stored["body"], stored["status"],
                                    headers={**json.loads(stored["headers"]), "Idempotent-Replayed": "true"})
            return await response(scope, receive, send)

        async def replay_body() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        captured: dict = {"body": b""}

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
                if not message.get("more_body") and captured["status"] < 500:
                    headers = {k: v for k, v in captured["headers"].items() if k in KEPT_HEADERS}
                    try:
                        await run_in_threadpool(store.put, caller, key, fingerprint, captured["status"], headers,
                                                captured["body"].decode())
                    except UNAVAILABLE:
                        pass  # the command's reply still goes out; a retry re-runs it idempotently by id
            await send(message)

        await self.app(scope, replay_body, capture)
