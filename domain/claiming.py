"""Claims and their demand change together: these functions decide on both and keep the
demand's record of its claims (capacity, waitlist, one live claim per claimant) in step.

Every function leaves pending events on both aggregates; the engine saves them in one
transaction, so a lost race on the demand's version re-decides on fresh state.
"""
from datetime import datetime, timedelta
from uuid import UUID

from domain.actors import Actor, Role
from domain.claim import Claim
from domain.demand import Demand
from domain.errors import CapacityExceededError, DuplicateClaimError, ForbiddenError, GuardFailedError, ValidationError


def make_claim(claim_id: UUID, demand: Demand, by: Actor, headcount: int, note: str, now: datetime) -> Claim:
    if by.role not in (Role.MEMBER, Role.ORG):
        raise ForbiddenError("claims are made by members and organisations")
    if isinstance(headcount, bool) or not isinstance(headcount, int) or not 1 <= headcount <= 1000:
        raise ValidationError("headcount must be an integer from 1 to 1000")
    if demand.status not in ("open", "filled") or now >= demand.claim_deadline:
        raise GuardFailedError(demand.status, "claim", "the demand is not open for claims", [])
    claimant = f"{by.role.value}:{by.id}"
    if demand.live_claim_of(claimant):
        raise DuplicateClaimError("this claimant already has a live claim on the demand")
    status = "pending"
    if demand.auto_confirm:
        status = "confirmed" if demand.status == "open" and headcount <= demand.seats_free else "waitlisted"
    claim = Claim(id=claim_id, demand_id=str(demand.id), owner_id=demand.organisation_id, claimant_id=by.id,
                  claimant_role=by.role.value, headcount=headcount, note=note, status=status)
    _note(demand, claim)
    return claim


def confirm(demand: Demand, claim: Claim, by: Actor) -> None:
    claim.lifecycle.decide(claim.status, "confirm", claim.relations(by))
    if claim.headcount > demand.seats_free:
        raise CapacityExceededError(
            f"{claim.headcount} more would exceed the {demand.needed} needed ({demand.confirmed} confirmed)")
    claim.confirm(by)
    _note(demand, claim)


def act(demand: Demand, claim: Claim, trigger: str, by: Actor, now: datetime, grace: timedelta,
        **fields) -> None:
    """Any claim trigger but confirm, with the demand facts its guards need."""
    if trigger == "confirm":
        return confirm(demand, claim, by)
    claim.act(trigger, {**fields, "by": by, "now": now, "grace": grace, "demand_status": demand.status,
                        "starts_at": demand.starts_at})
    _note(demand, claim)


def _note(demand: Demand, claim: Claim) -> None:
    demand.note_claim(str(claim.id), claim.claimant, claim.headcount, claim.status)
