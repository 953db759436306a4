"""The demands context: demands and their claims, saved together so capacity holds; and what
may be read of them, by whom (domain/readers.py), from the aggregates and the board."""
from datetime import timedelta
from uuid import UUID

from domain import claiming
from domain.actors import Actor, Role
from domain.claim import LIFECYCLE as CLAIM_LIFECYCLE
from domain.claim import Claim
from domain.demand import LIFECYCLE as DEMAND_LIFECYCLE
from domain.demand import Demand, sees_every_demand
from domain.errors import DomainError, ForbiddenError, NotFoundError
from domain.readers import party, reads_all
from workflows.context import Context
from workflows.clock import Clock, SystemClock
from workflows.commands import check_trigger
from workflows.engine import A, Engine, Meta, Outcome, Unit, check_version, load
from workflows.policies import DEMAND_POLICIES


class Demands(Context):
    name = "demands"
    snapshotting_intervals = {Demand: 100}

    def __init__(self, env=None, *, clock: Clock | None = None, grace: timedelta = timedelta(minutes=15),
                 registry=None):
        super().__init__(env)
        self.clock, self.grace, self.registry = clock or SystemClock(), grace, registry
        self.engine = Engine(self, DEMAND_POLICIES)
        self.queries = None  # the board's queries: api/wiring.py installs them (workflows never import projections)

    def post_demand(self, meta: Meta, demand_id: UUID, organisation_id: str | None, **details) -> Outcome[Demand]:
        """An organisation posts for itself; the operator names the organisation."""
        if meta.actor.role not in (Role.ORG, Role.ADMIN):
            raise ForbiddenError("demands are posted by organisations")
        if self.registry is not None:
            organisation_id = self.registry.organisation_for(meta.actor, organisation_id, details.get("grid_id"))

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
        return _seen(unit.get(demand_id, Demand), meta.actor)

    # -- queries --------------------------------------------------------------------------------
    def demand(self, demand_id: UUID, actor: Actor | None) -> Demand:
        return _seen(load(self, demand_id, Demand), actor)

    def claim(self, claim_id: UUID, actor: Actor) -> Claim:
        return party(load(self, claim_id, Claim), actor, "claim")

    def board(self, actor: Actor | None, status: str | None = None, grid: str | None = None,
              category: str | None = None, q: str | None = None, page: int = 1, page_size: int = 20):
        """The board as `actor` may see it: drafts and demands under review only for their owner and staff."""
        own = None if sees_every_demand(actor) else actor.id if actor is not None and actor.role is Role.ORG else ""
        return self.queries.search(status, grid, category, q, own, page, page_size)

    def claims_of(self, demand_id: UUID, actor: Actor, page: int = 1, page_size: int = 50):
        """All of them for the demand's organisation, admin and auditors; the caller's own for anyone else."""
        demand = self.demand(demand_id, actor)
        claimant = None if reads_all(demand, actor) else (actor.id, actor.role.value)
        return self.queries.claims(str(demand_id), claimant, page, page_size)

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


def _seen(demand: Demand, actor: Actor | None) -> Demand:
    if not demand.visible_to(actor):
        raise NotFoundError(f"no demand {demand.id}")
    return demand
