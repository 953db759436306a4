"""Bearer tokens, stored hashed, each bound to a role and a subject id."""
import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from domain.actors import Actor, Role
from domain.errors import ForbiddenError
from projections.db import Database

TOKENS_DDL = """CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, role TEXT NOT NULL, subject_id TEXT NOT NULL, name TEXT NOT NULL,
    created_at TEXT NOT NULL)"""


READ_METHODS = ("GET", "HEAD", "OPTIONS")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, db: Database):
        self.db = db
        with db.transaction() as tx:
            tx.execute(TOKENS_DDL)

    def create(self, role: Role, subject_id: str, name: str) -> str:
        token = secrets.token_urlsafe(32)
        with self.db.transaction() as tx:
            tx.execute("INSERT INTO tokens (hash, role, subject_id, name, created_at) VALUES (%s, %s, %s, %s, %s)",
                       (_hash(token), role.value, subject_id, name, datetime.now(UTC).isoformat()))
        return token

    def actor(self, token: str) -> Actor | None:
        rows = self.db.rows("SELECT role, subject_id FROM tokens WHERE hash = %s", (_hash(token),))
        return Actor(rows[0]["subject_id"], Role(rows[0]["role"])) if rows else None


class Unauthenticated(Exception):
    """No token, or one we do not know."""


def optional_actor(request: Request) -> Actor | None:
    actor = _actor(request)
    if actor is not None and actor.role is Role.AUDITOR and request.method not in READ_METHODS:
        raise ForbiddenError("auditors read; nothing they do changes state")
    return actor


def _actor(request: Request) -> Actor | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use 'Authorization: Bearer <token>'")
    token = token.strip()
    admin_token = request.app.state.linli.settings.admin_token
    if admin_token is not None and hmac.compare_digest(token.encode(), admin_token.get_secret_value().encode()):
        return Actor("admin", Role.ADMIN)
    actor = request.app.state.linli.tokens.actor(token)
    if actor is None:
        raise Unauthenticated("unknown token")
    return actor


async def required_actor(actor: Annotated[Actor | None, Depends(optional_actor)]) -> Actor:
    """Async: no I/O here (the token lookup is `optional_actor`'s), so no thread-pool hop."""
    if actor is None:
        raise Unauthenticated("this needs 'Authorization: Bearer <token>'")
    return actor


MaybeActor = Annotated[Actor | None, Depends(optional_actor)]
CurrentActor = Annotated[Actor, Depends(required_actor)]
