"""Demands (需求): post, read, list the board, act on them, and claim them."""
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.auth import CurrentActor, MaybeActor
from api.representations import claim, claim_row, demand, demand_row
from api.routes.bodies import ActionBody, NewClaim, NewDemand
from api.routes.common import CaughtUp, Filter, Page, PageSize, System, if_match, is_fresh, meta, new_id, reply

router = APIRouter(prefix="/demands", tags=["demands"])
DETAILS = {"title", "description", "category", "grid_id", "needed", "claim_deadline", "starts_at", "ends_at",
           "auto_confirm"}


@router.post("", status_code=201)
def post_demand(body: NewDemand, request: Request, actor: CurrentActor, system: System):
    outcome = system.demands.post_demand(meta(request, actor), new_id(request, actor), body.organisation_id,
                                         **body.model_dump(include=DETAILS), location=body.location())
    return reply(demand(outcome.value, actor), outcome.value.version, 201, outcome, "demands")


@router.get("")
def list_demands(actor: MaybeActor, system: System, status: Filter = None, grid: Filter = None,
                 category: Filter = None, q: Annotated[str | None, Query(max_length=200)] = None,
                 page: Page = 1, page_size: PageSize = 20, _: CaughtUp = None) -> dict:
    found = system.demands.board(actor, status, grid, category, q, page, page_size)
    return found.body(lambda row: demand_row(row, actor))


@router.get("/{demand_id}")
def get_demand(demand_id: UUID, actor: MaybeActor, system: System):
    d = system.demands.demand(demand_id, actor)
    return reply(demand(d, actor), d.version)


@router.post("/{demand_id}/actions/{trigger}")
def act_on_demand(demand_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                  body: ActionBody | None = None):
    fields = body.fields() if body else {}
    outcome = system.demands.act_on_demand(meta(request, actor, fields.get("reason")), demand_id, trigger,
                                           if_match(request), **fields)
    return reply(demand(outcome.value, actor), outcome.value.version, 200, outcome, "demands")


@router.post("/{demand_id}/claims", status_code=201)
def make_claim(demand_id: UUID, request: Request, actor: CurrentActor, system: System,
               body: NewClaim | None = None):
    body = body or NewClaim()
    outcome = system.demands.make_claim(meta(request, actor), new_id(request, actor), demand_id, body.headcount,
                                        body.note, fresh=is_fresh(request))
    return reply(claim(outcome.value, actor), outcome.value.version, 201, outcome, "demands")


@router.get("/{demand_id}/claims")
def claims_of_demand(demand_id: UUID, actor: CurrentActor, system: System, page: Page = 1,
                     page_size: PageSize = 50, _: CaughtUp = None) -> dict:
    """All of them for the demand's organisation, admin and auditors; the caller's own for anyone else."""
    found = system.demands.claims_of(demand_id, actor, page, page_size)
    return found.body(lambda row: claim_row(row, actor))
