"""Demands (需求): post, read, list the board, act on them, and claim them."""
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.auth import CurrentActor, MaybeActor
from api.representations import claim, claim_row, demand, demand_row
from api.routes.bodies import ActionBody, NewClaim, NewDemand
from api.routes.common import CaughtUp, Filter, Page, PageSize, System, if_match, is_fresh, meta, new_id, reply
from api.routes.readers import own_rows, staff
from domain.actors import Actor, Role
from domain.demand import PUBLIC_STATES, Demand, sees_every_demand
from domain.errors import NotFoundError, ValidationError
from projections.demand_board import board_total

router = APIRouter(prefix="/demands", tags=["demands"])
PUBLIC_SQL = ", ".join(f"'{s}'" for s in PUBLIC_STATES)


def _load(system, demand_id: UUID, actor: Actor | None) -> Demand:
    d = system.demands.get(demand_id, Demand)
    if not d.visible_to(actor):
        raise NotFoundError(f"no demand {demand_id}")
    return d


@router.post("", status_code=201)
def post_demand(body: NewDemand, request: Request, actor: CurrentActor, system: System):
    organisation_id = body.organisation_id if actor.role is Role.ADMIN else actor.id
    if actor.role in (Role.ORG, Role.ADMIN):
        if not organisation_id or system.registry.find(organisation_id, "organisation") is None:
            raise ValidationError("organisation_id names no registered organisation")
        if system.registry.find(body.grid_id, "grid") is None:
            raise ValidationError("grid_id names no registered grid")
    details = body.model_dump(include={"title", "description", "category", "grid_id", "needed", "claim_deadline",
                                       "starts_at", "ends_at", "auto_confirm"})
    outcome = system.demands.post_demand(meta(request, actor), new_id(request, actor), organisation_id or "",
                                         **details, location=body.location())
    return reply(system, demand(outcome.value, actor), outcome.value.version, 201, outcome, "demands")


@router.get("")
def list_demands(actor: MaybeActor, system: System, status: Filter = None, grid: Filter = None,
                 category: Filter = None, q: Annotated[str | None, Query(max_length=200)] = None,
                 page: Page = 1, page_size: PageSize = 20, _: CaughtUp = None) -> dict:
    where, params = [], []
    for column, value in (("status", status), ("grid_id", grid), ("category", category)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if q:
        where.append("(title LIKE %s OR description LIKE %s)")
        params += [f"%{q}%", f"%{q}%"]
    if not sees_every_demand(actor):
        own = actor.id if actor is not None and actor.role is Role.ORG else ""
        where.append(f"(status IN ({PUBLIC_SQL}) OR organisation_id = %s)")
        params.append(own)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = None if q else board_total(system.db, status, grid, category, not sees_every_demand(actor),
                                       actor.id if actor is not None and actor.role is Role.ORG else "")
    if total is None:
        total = system.db.rows(f"SELECT COUNT(*) AS n FROM demand_board {clause}", params)[0]["n"]
    rows = system.db.rows(f"SELECT * FROM demand_board {clause} ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
                          (*params, page_size, (page - 1) * page_size))
    return {"items": [demand_row(r, actor) for r in rows], "total": total, "page": page, "page_size": page_size}


@router.get("/{demand_id}")
def get_demand(demand_id: UUID, actor: MaybeActor, system: System):
    d = _load(system, demand_id, actor)
    return reply(system, demand(d, actor), d.version)


@router.post("/{demand_id}/actions/{trigger}")
def act_on_demand(demand_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                  body: ActionBody | None = None):
    fields = body.fields() if body else {}
    outcome = system.demands.act_on_demand(meta(request, actor, fields.get("reason")), demand_id, trigger,
                                           if_match(request), **fields)
    return reply(system, demand(outcome.value, actor), outcome.value.version, 200, outcome, "demands")


@router.post("/{demand_id}/claims", status_code=201)
def make_claim(demand_id: UUID, request: Request, actor: CurrentActor, system: System,
               body: NewClaim | None = None):
    body = body or NewClaim()
    outcome = system.demands.make_claim(meta(request, actor), new_id(request, actor), demand_id, body.headcount,
                                        body.note, fresh=is_fresh(request))
    return reply(system, claim(outcome.value, actor), outcome.value.version, 201, outcome, "demands")


@router.get("/{demand_id}/claims")
def claims_of_demand(demand_id: UUID, actor: CurrentActor, system: System, page: Page = 1,
                     page_size: PageSize = 50, _: CaughtUp = None) -> dict:
    """All of them for the demand's organisation, admin and auditors; the caller's own for anyone else."""
    d = _load(system, demand_id, actor)
    where, params = "demand_id = %s", [str(demand_id)]
    if not (staff(actor) or "owner" in d.relations(actor)):
        mine, more = own_rows(actor, "claimant_id", "claimant_role")
        where, params = f"{where} AND {mine}", params + more
    total = system.db.rows(f"SELECT COUNT(*) AS n FROM claims WHERE {where}", params)[0]["n"]
    rows = system.db.rows(f"SELECT * FROM claims WHERE {where} ORDER BY created_at, id LIMIT %s OFFSET %s",
                          (*params, page_size, (page - 1) * page_size))
    return {"items": [claim_row(r, actor) for r in rows], "total": total, "page": page, "page_size": page_size}
