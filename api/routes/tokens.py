"""Issuing bearer tokens (admin)."""
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import CurrentActor
from api.routes.common import System
from domain.actors import Role
from domain.errors import ForbiddenError, ValidationError

router = APIRouter(prefix="/auth", tags=["auth"])
SUBJECT_KIND = {Role.ORG: "organisation", Role.MEMBER: "member", Role.DEPT: "department"}


class NewToken(BaseModel):
    role: Role
    subject_id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=200)]


def issue(system, role: Role, subject_id: str, name: str) -> str:
    """Used by the route and the CLI: an org, member or dept token must name a registered subject."""
    if role is Role.SYSTEM:
        raise ValidationError("system is not a token role")
    kind = SUBJECT_KIND.get(role)
    if kind and system.registry.find(subject_id, kind) is None:
        raise ValidationError(f"subject_id names no registered {kind}")
    return system.tokens.create(role, subject_id, name)


@router.post("/tokens", status_code=201)
def create_token(body: NewToken, actor: CurrentActor, system: System) -> dict:
    if actor.role is not Role.ADMIN:
        raise ForbiddenError("only the platform operator issues tokens")
    return {"token": issue(system, body.role, body.subject_id, body.name), "role": body.role.value,
            "subject_id": body.subject_id, "name": body.name}
