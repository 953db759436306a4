"""Process policies of the demands context: they react to events inside the same transaction,
acting as `system` with the triggering event as cause (stamped by the engine).

- promote: a seated claim cancelled on an open or filled demand frees seats; the oldest
  waitlisted claims that fit are confirmed, first come first served.
- fill / reopen: a demand whose confirmed headcount reaches `needed` fills; a filled demand
  with free seats left after promotion reopens.
- cascade: a withdrawn demand cancels its live claims.
- leftovers: a fulfilled or expired demand declines its pending and waitlisted claims.
"""
from uuid import UUID

from domain import claiming
from domain.actors import SYSTEM
from domain.claim import Claim
from domain.demand import SEATED, Demand
from workflows.engine import Unit

CLAIM_EVENTS = (Claim.Made, Claim.Confirmed, Claim.Cancelled, Claim.Declined, Claim.MarkedNoShow)


def _demand_of(unit: Unit, claim_event) -> Demand:
    claim = unit.get(claim_event.originator_id, Claim)
    return unit.get(UUID(claim.demand_id), Demand)


def promote(unit: Unit, event) -> None:
    if not (isinstance(event, Claim.Cancelled) and event.was in SEATED):
        return
    demand = _demand_of(unit, event)
    if demand.status not in ("open", "filled"):
        return
    for claim_id in list(demand.waitlist):
        claim = unit.get(claim_id, Claim)
        if claim.headcount <= demand.seats_free:
            claiming.confirm(demand, claim, SYSTEM)


def fill_or_reopen(unit: Unit, event) -> None:
    if not isinstance(event, CLAIM_EVENTS):
        return
    demand = _demand_of(unit, event)
    if demand.status == "open" and demand.seats_free <= 0:
        demand.fill(SYSTEM)
    elif demand.status == "filled" and demand.seats_free > 0:
        demand.reopen(SYSTEM)


def cascade_withdrawal(unit: Unit, event) -> None:
    if not isinstance(event, Demand.Withdrawn):
        return
    demand = unit.get(event.originator_id, Demand)
    for claim_id, noted in list(demand.claims.items()):
        if noted["status"] in ("pending", "waitlisted", "confirmed"):
            claiming.act(demand, unit.get(claim_id, Claim), "cancel", SYSTEM, None, None, reason=event.reason)


def decline_leftovers(unit: Unit, event) -> None:
    if not isinstance(event, Demand.Fulfilled | Demand.Expired):
        return
    demand = unit.get(event.originator_id, Demand)
    reason = "需求已完成" if isinstance(event, Demand.Fulfilled) else "需求已过期"
    for claim_id, noted in list(demand.claims.items()):
        if noted["status"] in ("pending", "waitlisted"):
            claiming.act(demand, unit.get(claim_id, Claim), "decline", SYSTEM, None, None, reason=reason)


DEMAND_POLICIES = (promote, fill_or_reopen, cascade_withdrawal, decline_leftovers)
