"""Audit (审计): every change with who, when, why; any record as it stood; proof nobody rewrote history."""
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api.auth import CurrentActor
from api.history import history, locate, state_at
from api.routes.bodies import Instant
from api.routes.common import MAX_POSITION, Filter, Position, System
from domain.actors import Actor, Role
from domain.errors import ForbiddenError, ValidationError
from projections import audit
from projections.audit import served_row
from projections.chain import verify

router = APIRouter(prefix="/audit", tags=["audit"])


def auditor(actor: CurrentActor) -> Actor:
    if actor.role not in (Role.AUDITOR, Role.ADMIN):
        raise ForbiddenError("audit is for auditors and the operator")
    return actor


Auditor = Annotated[Actor, Depends(auditor)]


@router.get("/events")
def events(_: Auditor, system: System, aggregate_id: Filter = None, actor: Filter = None,
           type: Filter = None, since: Instant | None = None, until: Instant | None = None,
           after: Position = 0, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict:
    """Cursor paging: pass the reply's `next_after` as `after` for the next page."""
    rows = [served_row(row, system.people)
            for row in audit.search(system.db, aggregate_id, actor, type, since, until, after, limit)]
    return {"items": rows, "next_after": rows[-1]["seq"] if len(rows) == limit else None}


@router.get("/aggregates/{aggregate_id}/history")
def aggregate_history(aggregate_id: UUID, _: Auditor, system: System) -> dict:
    context, app = locate(system.contexts, aggregate_id)
    return {"aggregate_id": str(aggregate_id), "context": context, "events": history(app, aggregate_id)}


@router.get("/aggregates/{aggregate_id}/state")
def aggregate_state(aggregate_id: UUID, _: Auditor, system: System,
                    version: Annotated[int | None, Query(ge=1, le=MAX_POSITION)] = None, at: Instant | None = None) -> dict:
    if (version is None) == (at is None):
        raise ValidationError("give exactly one of version or at")
    context, app = locate(system.contexts, aggregate_id)
    return {"aggregate_id": str(aggregate_id), "context": context, **state_at(app, aggregate_id, version, at)}


@router.get("/verify")
def verify_history(_: Auditor, system: System) -> dict:
    """Reads only: checking history must never project, chain or sign what it checks."""
    findings = verify(system.db, system.contexts, system.audit_key)
    return {"ok": not findings, "signed": system.audit_key.public is not None,
            "findings": [vars(f) for f in findings]}
