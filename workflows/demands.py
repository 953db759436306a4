"""The demands context: demands and their claims, saved together so capacity holds."""
from datetime import timedelta
from uuid import UUID

from domain import claiming
from domain.actors import Role
from domain.claim import LIFECYCLE as CLAIM_LIFECYCLE
from domain.claim import Claim
from domain.demand import LIFECYCLE as DEMAND_LIFECYCLE
from domain.demand import Demand
from domain.errors import DomainError, ForbiddenError, NotFoundError
from workflows.context import Context
from workflows.clock import Clock, SystemClock
from workflows.commands import check_trigger
from workflows.engine import A, Engine, Meta, Outcome, Unit, check_version, load
from workflows.policies import DEMAND_POLICIES


class Demands(Context):
    name = "demands"
    snapshotting_intervals = {Demand: 100}

    def __init__(self, env=None, *, clock: Clock | None = None, grace: timedelta = timedelta(minutes=15)):
        super().__init__(env)
        self.clock, self.grace = clock or SystemClock(), grace
        self.engine = Engine(self, DEMAND_POLICIES)

    def post_demand(self, meta: Meta, demand_id: UUID, organisation_id: str, **details) -> Outcome[Demand]:
        if meta.actor.role not in (Role.ORG, Role.ADMIN):
            raise ForbiddenError("demands are posted by organisations")

        def command(unit: Unit) -> Demand:
            existing = unit.find(demand_id, Demand)
            if existing is not None:
                return existing
            return unit.add(Demand.post(demand_id, meta.actor, organisation_id, **details))

        return self.engine.execute(meta, command)

    def act_on_demand(self, meta: Meta, demand_id: UUID, trigger: str, if_match: int | None = None,
                      **fields) -> Outcome[Demand]:
        check_trigger(DEMAND_LIFECYCLE, trigger)

        def command(unit: Unit) -> Demand:
            demand = self._visible(unit, demand_id, meta)
            check_version(demand, if_match)
            demand.act(trigger, {**fields, "by": meta.actor, "now": self.clock.now()})
            return demand

        return self.engine.execute(meta, command, key=demand_id)

    def make_claim(self, meta: Meta, claim_id: UUID, demand_id: UUID, headcount: int = 1,
                   note: str = "", fresh: bool = False) -> Outcome[Claim]:
        """`fresh`: the id was just minted (no Idempotency-Key), so no stored claim can have it."""
        def command(unit: Unit) -> Claim:
            existing = None if fresh else unit.find(claim_id, Claim)
            if existing is not None:
                return existing
            demand = self._visible(unit, demand_id, meta)
            return unit.add(claiming.make_claim(claim_id, demand, meta.actor, headcount, note, self.clock.now()))

        return self.engine.execute(meta, command, key=demand_id)

    def act_on_claim(self, meta: Meta, claim_id: UUID, trigger: str, if_match: int | None = None,
                     **fields) -> Outcome[Claim]:
        check_trigger(CLAIM_LIFECYCLE, trigger)
        demand_id = UUID(self.engine.peek(claim_id, Claim).demand_id)  # a claim never changes demand

        def command(unit: Unit) -> Claim:
            claim = unit.get(claim_id, Claim)
            check_version(claim, if_match)
            demand = unit.get(demand_id, Demand)
            claiming.act(demand, claim, trigger, meta.actor, self.clock.now(), self.grace, **fields)
            return claim

        return self.engine.execute(meta, command, key=demand_id)

    @staticmethod
    def _visible(unit: Unit, demand_id: UUID, meta: Meta) -> Demand:
        demand = unit.get(demand_id, Demand)
        if not demand.visible_to(meta.actor):
            raise NotFoundError(f"no demand {demand_id}")
        return demand

    def fire(self, meta: Meta, kind: str, aggregate_id: UUID) -> Outcome | None:
        """A deadline came due: expire a demand or mark a claim no-show. Firing twice does nothing."""
        try:
            if kind == "demand.expire":
                return self.act_on_demand(meta, aggregate_id, "expire")
            if kind == "claim.no_show":
                return self.act_on_claim(meta, aggregate_id, "no_show")
        except DomainError:
            return None  # the state moved on (fired already, or no longer applies)
        raise ValueError(f"unknown deadline kind {kind}")

    def get(self, aggregate_id: UUID | str, kind: type[A]) -> A:
        return load(self, aggregate_id, kind)
