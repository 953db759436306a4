"""Bearer tokens (admin): issue, list (never the secret), revoke."""
import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field, StrictInt

from api.auth import CurrentActor
from api.routes.common import Page, PageSize, System
from domain.actors import Actor, Role
from domain.errors import ForbiddenError, ValidationError

router = APIRouter(prefix="/auth", tags=["auth"])
SUBJECT_KIND = {Role.ORG: "organisation", Role.MEMBER: "member", Role.DEPT: "department"}
PLAIN_SUBJECT = re.compile(r"[A-Za-z0-9._-]{1,64}")


class NewToken(BaseModel):
    role: Role
    subject_id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    expires_in_days: Annotated[StrictInt, Field(ge=1, le=3650)] = 90


class Revocation(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


def operator(actor: CurrentActor) -> Actor:
    if actor.role is not Role.ADMIN:
        raise ForbiddenError("only the platform operator manages tokens")
    return actor


Operator = Annotated[Actor, Depends(operator)]


def issue(system, role: Role, subject_id: str, name: str, expires_in_days: int = 90) -> dict:
    """Used by the route and the CLI. An org, member or dept token names a registered subject; an
    admin or auditor token names a person or desk in plain letters, never `system` (the actor of
    timers and policies)."""
    if role is Role.SYSTEM:
        raise ValidationError("system is not a token role")
    kind = SUBJECT_KIND.get(role)
    if kind and system.registry.find(subject_id, kind) is None:
        raise ValidationError(f"subject_id names no registered {kind}")
    if not kind and (subject_id == Role.SYSTEM.value or not PLAIN_SUBJECT.fullmatch(subject_id)):
        raise ValidationError(f"an {role.value} token's subject_id is 1 to 64 of A-Z a-z 0-9 . _ - and not 'system'")
    return system.tokens.mint(role, subject_id, name, expires_in_days, datetime.now(UTC))


@router.post("/tokens", status_code=201)
def create_token(body: NewToken, _: Operator, system: System) -> dict:
    return issue(system, body.role, body.subject_id, body.name, body.expires_in_days)


@router.get("/tokens")
def list_tokens(_: Operator, system: System, page: Page = 1, page_size: PageSize = 50) -> dict:
    total, rows = system.tokens.listing(page_size, (page - 1) * page_size)
    return {"items": rows, "total": total, "page": page, "page_size": page_size}


@router.post("/tokens/{token_id}/actions/revoke")
def revoke_token(token_id: Annotated[str, Path(max_length=64)], body: Revocation, _: Operator,
                 system: System) -> dict:
    """Every process refuses the token within a second (api/auth.py)."""
    return system.tokens.revoke(token_id, body.reason, datetime.now(UTC))
