"""Claims (认领): read one, and act on it."""
from uuid import UUID

from fastapi import APIRouter, Request

from api.auth import CurrentActor
from api.representations import claim
from api.routes.bodies import ActionBody
from api.routes.common import System, if_match, meta, reply

router = APIRouter(prefix="/claims", tags=["claims"])


@router.get("/{claim_id}")
def get_claim(claim_id: UUID, actor: CurrentActor, system: System):
    c = system.demands.claim(claim_id, actor)
    return reply(claim(c, actor), c.version)


@router.post("/{claim_id}/actions/{trigger}")
def act_on_claim(claim_id: UUID, trigger: str, request: Request, actor: CurrentActor, system: System,
                 body: ActionBody | None = None):
    fields = body.fields() if body else {}
    outcome = system.demands.act_on_claim(meta(request, actor, fields.get("reason")), claim_id, trigger,
                                          if_match(request), **fields)
    return reply(claim(outcome.value, actor), outcome.value.version, 200, outcome, "demands")
