"""A hypothesis state machine drives random command sequences through the demands context
(workflows level, no HTTP) and checks after every step:

- capacity: for every demand, the headcount of its seated claims (confirmed, checked_in,
  completed, verified), counted from the claim aggregates themselves, is at most `needed`,
  and the demand's own `confirmed` and claim book agree with those claims;
- at most one live claim per claimant per demand; open/filled agree with the free seats;
  finished demands hold no claims that could still change capacity;
- every aggregate rebuilt from its stored events (through the repository, which may start
  from a snapshot, and by a plain fold of the full event stream) equals the live object a
  command returned for that version;
- every stored event says who, why and in answer to what (`meta`), and every cause it names
  is a stored event.

Domain refusals (DomainError) are expected on random commands; anything else fails the run.
"""
from datetime import timedelta
from uuid import UUID, uuid4

from eventsourcing.application import project_aggregate
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition,
                                 rule)

from domain.actors import SYSTEM, Actor, Role
from domain.claim import Claim
from domain.demand import LIVE, SEATED, Demand
from domain.errors import ConcurrencyError, DomainError
from tests.support import START
from workflows.clock import FakeClock
from workflows.demands import Demands
from workflows.engine import Meta

OWNERS = [Actor("org-east", Role.ORG), Actor("org-west", Role.ORG)]
CLAIMANTS = [Actor(f"member-{n}", Role.MEMBER) for n in range(1, 6)] + [
    Actor("org-west", Role.ORG), Actor("org-north", Role.ORG)]
ADMIN = Actor("admin", Role.ADMIN)
STRANGER = Actor("member-stranger", Role.MEMBER)
META_KEYS = {"actor_id", "actor_role", "correlation_id", "causation_id"}
ROLES = {r.value for r in Role}

CLAIM_TRIGGERS = ["confirm", "confirm", "confirm", "waitlist", "decline", "cancel", "cancel", "check_in",
                  "check_in", "complete", "complete", "verify", "no_show"]
DEMAND_TRIGGERS = ["start", "start", "fulfil", "fulfil", "withdraw", "close"]
CLAIM_ORDER = ["confirm", "check_in", "complete", "verify", "waitlist", "no_show", "decline", "cancel"]
DEMAND_ORDER = ["start", "fulfil", "close", "submit"]  # withdraw: only in act_on_demand, now and then


def snapshotting_every(interval: int) -> type[Demands]:
    """The product's Demands (snapshots every 100 Demand events), or one snapshotting far more often."""
    if interval == 100:
        assert Demands.snapshotting_intervals == {Demand: 100}
        return Demands
    return type(f"DemandsSnapshotEvery{interval}", (Demands,), {"snapshotting_intervals": {Demand: interval}})


def fold(app: Demands, aggregate_id: UUID):
    """The aggregate from its whole event stream, ignoring snapshots."""
    return project_aggregate(None, app.events.get(aggregate_id))


class DemandMachine(RuleBasedStateMachine):
    demands = Bundle("demands")
    claims = Bundle("claims")

    def __init__(self):
        super().__init__()
        self.app: Demands | None = None
        self.clock = FakeClock(START)
        self.live: dict[UUID, object] = {}  # id -> the latest object a command returned for it
        self.demand_ids: list[UUID] = []
        self.claims_of: dict[UUID, list[UUID]] = {}
        self.events_seen: dict[str, dict] = {}  # "id:version" -> meta
        self.checked_position = 0

    @initialize(interval=st.sampled_from([100, 100, 1, 2, 3, 7]))
    def start_app(self, interval):
        app_class = snapshotting_every(interval)
        self.app = app_class(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=self.clock)

    def teardown(self):
        if self.app is not None:
            self.app.close()

    # -- running a command ------------------------------------------------------------------
    def run(self, command, label: str = ""):
        """Run one command; a domain refusal is fine and returns None, anything else fails."""
        head = self.app.recorder.max_notification_id()
        try:
            outcome = command()
        except ConcurrencyError:
            raise  # a single writer can never lose a race
        except DomainError as error:
            if label:
                event(f"{label}: refused ({type(error).__name__})")
            assert self.app.recorder.max_notification_id() == head, "a refused command left events behind"
            return None
        if label and outcome is not None and outcome.events:
            event(f"{label}: done")
        if outcome is not None:
            self.live[outcome.value.id] = outcome.value
            assert all(isinstance(e, Demand.Event | Claim.Event) for e in outcome.events)
        return outcome

    def owner_of(self, demand_id: UUID) -> Actor:
        return Actor(self.app.repository.get(demand_id).organisation_id, Role.ORG)

    # -- demands ----------------------------------------------------------------------------
    @precondition(lambda self: len(self.demand_ids) < 4)  # a few demands, each driven far
    @rule(target=demands, owner=st.sampled_from(OWNERS), needed=st.integers(1, 5), auto_confirm=st.booleans(),
          deadline_hours=st.integers(1, 96), lead_hours=st.integers(0, 24), stage=st.sampled_from(
              ["open", "open", "open", "open", "draft", "pending_review"]))
    def post_demand(self, owner, needed, auto_confirm, deadline_hours, lead_hours, stage):
        now = self.clock.now()
        deadline = now + timedelta(hours=deadline_hours)
        starts_at = deadline + timedelta(hours=lead_hours)
        demand_id = uuid4()
        outcome = self.run(lambda: self.app.post_demand(
            Meta(owner), demand_id, owner.id, title="社区助老志愿服务", description="陪伴老人", category="助老服务",
            grid_id="grid-1", needed=needed, claim_deadline=deadline, starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=3), auto_confirm=auto_confirm))
        assert outcome is not None and outcome.value.status == "draft"
        self.demand_ids.append(demand_id)
        self.claims_of[demand_id] = []
        if stage != "draft":
            assert self.run(lambda: self.app.act_on_demand(Meta(owner), demand_id, "submit")) is not None
        if stage == "open":
            assert self.run(lambda: self.app.act_on_demand(Meta(ADMIN), demand_id, "approve")) is not None
        return demand_id

    @rule(demand_id=demands, trigger=st.sampled_from(DEMAND_TRIGGERS),
          by=st.sampled_from(["owner", "owner", "admin", "stranger"]))
    def act_on_demand(self, demand_id, trigger, by):
        actor = {"owner": self.owner_of(demand_id), "admin": ADMIN, "stranger": OWNERS[0]}[by]
        if by == "stranger" and actor.id == self.owner_of(demand_id).id:
            actor = OWNERS[1]
        fields = {"withdraw": {"reason": "活动取消"}, "close": {"rating": 4, "feedback": "很好"}}.get(trigger, {})
        self.run(lambda: self.app.act_on_demand(Meta(actor, reason=fields.get("reason")), demand_id, trigger,
                                                **fields), f"demand {trigger} by {by}")

    @rule(demand_id=demands, needed=st.integers(1, 5))
    def revise_or_approve(self, demand_id, needed):
        """Drafts and demands under review move on: revise (maybe needed), submit, approve."""
        owner = self.owner_of(demand_id)
        self.run(lambda: self.app.act_on_demand(Meta(owner), demand_id, "revise", needed=needed))
        self.run(lambda: self.app.act_on_demand(Meta(owner), demand_id, "submit"))
        self.run(lambda: self.app.act_on_demand(Meta(ADMIN), demand_id, "approve"))

    # -- claims -----------------------------------------------------------------------------
    @rule(target=claims, demand_id=demands, crowd=st.lists(
        st.tuples(st.sampled_from(CLAIMANTS), st.sampled_from([1, 1, 1, 2, 3])), min_size=1, max_size=4))
    def make_claims(self, demand_id, crowd):
        """One to four claimants claim a demand one after another (a claimant may try twice)."""
        made = []
        for claimant, headcount in crowd:
            claim_id = uuid4()
            outcome = self.run(
                lambda: self.app.make_claim(Meta(claimant), claim_id, demand_id, headcount, "我来"), "make claim")
            if outcome is not None:
                assert outcome.value.id == claim_id and outcome.value.demand_id == str(demand_id)
                assert outcome.value.status in ("pending", "confirmed", "waitlisted")
                self.claims_of[demand_id].append(claim_id)
                made.append(claim_id)
        return multiple(*made)

    @rule(claim_id=claims, trigger=st.sampled_from(CLAIM_TRIGGERS),
          by=st.sampled_from(["right", "right", "right", "right", "owner", "claimant", "wrong"]),
          hours=st.sampled_from([2.5, 1, 24, 0, 25]), rating=st.sampled_from([5, 3, 1, 0]))
    def act_on_claim(self, claim_id, trigger, by, hours, rating):
        claim = self.app.repository.get(claim_id)
        owner = Actor(claim.owner_id, Role.ORG)
        claimant = Actor(claim.claimant_id, Role(claim.claimant_role))
        if by == "right":
            actor = {"cancel": claimant, "check_in": claimant, "complete": claimant, "no_show": SYSTEM}.get(
                trigger, owner)
        else:
            actor = {"owner": owner, "claimant": claimant, "wrong": STRANGER}[by]
        fields = {"decline": {"reason": "人数已够"}, "cancel": {"reason": "临时有事"}, "complete": {"hours": hours},
                  "verify": {"rating": rating}}.get(trigger, {})
        self.run(lambda: self.app.act_on_claim(Meta(actor, reason=fields.get("reason")), claim_id, trigger,
                                               **fields), f"claim {trigger} by {by}")

    @rule(claim_id=claims, data=st.data(), hours=st.sampled_from([2.5, 1, 24]))
    def progress_claim(self, claim_id, data, hours):
        """Fire a trigger the claim's table allows now, by someone allowed to (guards may still refuse)."""
        claim = self.app.repository.get(claim_id)
        people = {"owner": Actor(claim.owner_id, Role.ORG),
                  "claimant": Actor(claim.claimant_id, Role(claim.claimant_role)), "system": SYSTEM}
        # forward moves first: hypothesis favours the first choices
        choices = sorted({(t, who) for who, actor in people.items()
                          for t in claim.lifecycle.allowed(claim.status, claim.relations(actor))
                          if who != "system" or t == "no_show"},
                         key=lambda c: (CLAIM_ORDER.index(c[0]), c[1]))
        if not choices:
            return
        trigger, who = data.draw(st.sampled_from(choices))
        fields = {"decline": {"reason": "人数已够"}, "cancel": {"reason": "临时有事"}, "complete": {"hours": hours},
                  "verify": {"rating": 5}}.get(trigger, {})
        meta = Meta(people[who], reason=fields.get("reason"))
        outcome = self.run(lambda: self.app.act_on_claim(meta, claim_id, trigger, **fields),
                           f"claim {trigger} by {who}")
        if outcome is not None:
            assert outcome.value.status == claim.lifecycle.decide(claim.status, trigger,
                                                                  claim.relations(people[who]))

    # claims move far more often than anything else: the same rule twice doubles its weight
    progress_claim_again = rule(claim_id=claims, data=st.data(), hours=st.sampled_from([2.5, 1, 24]))(
        lambda self, **kw: self.progress_claim(**kw))

    @rule(demand_id=demands, data=st.data())
    def progress_demand(self, demand_id, data):
        """Fire a forward trigger the demand's table allows its owner now (start, fulfil, close, submit)."""
        demand = self.app.repository.get(demand_id)
        owner = self.owner_of(demand_id)
        choices = sorted((t for t in demand.lifecycle.allowed(demand.status, demand.relations(owner))
                          if t in DEMAND_ORDER), key=DEMAND_ORDER.index)
        if not choices:
            return
        trigger = data.draw(st.sampled_from(choices))
        fields = {"withdraw": {"reason": "活动取消"}, "close": {"rating": 4}}.get(trigger, {})
        self.run(lambda: self.app.act_on_demand(Meta(owner, reason=fields.get("reason")), demand_id, trigger,
                                                **fields), f"demand {trigger} by owner (allowed)")

    # -- time -------------------------------------------------------------------------------
    @rule(hours=st.sampled_from([0, 1, 2, 6, 12, 25]), minutes=st.integers(0, 59))
    def time_passes(self, hours, minutes):
        """The clock moves on and the timers fire every deadline that might be due."""
        self.clock.advance(hours=hours, minutes=minutes)
        for demand_id in self.demand_ids:
            outcome = self.run(lambda: self.app.fire(Meta(SYSTEM), "demand.expire", demand_id), "expire")
            if outcome is not None and outcome.events:
                assert self.app.repository.get(demand_id).status == "expired"
                again = self.run(lambda: self.app.fire(Meta(SYSTEM), "demand.expire", demand_id))
                assert again is None or not again.events, "a second firing changed the demand again"
        for claims in self.claims_of.values():
            for claim_id in claims:
                self.run(lambda: self.app.fire(Meta(SYSTEM), "claim.no_show", claim_id), "timer no_show")

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def capacity_and_claim_book(self):
        if self.app is None:
            return
        for demand_id in self.demand_ids:
            demand = self.app.repository.get(demand_id)
            claims = [self.app.repository.get(c) for c in self.claims_of[demand_id]]
            assert all(c.demand_id == str(demand_id) for c in claims)
            seated = sum(c.headcount for c in claims if c.status in SEATED)
            assert seated <= demand.needed, (demand_id, seated, demand.needed)
            assert demand.confirmed == seated, (demand_id, demand.confirmed, seated)

            live = [c for c in claims if c.status in LIVE]
            claimants = [c.claimant for c in live]
            assert len(claimants) == len(set(claimants)), f"two live claims by one claimant: {claimants}"
            assert demand.claims == {str(c.id): {"claimant": c.claimant, "headcount": c.headcount,
                                                  "status": c.status} for c in live}
            waiting = [str(c.id) for c in claims if c.status == "waitlisted"]
            assert sorted(demand.waitlist) == sorted(waiting)

            if demand.status == "open":
                assert seated < demand.needed, f"open with no seat free: {seated}/{demand.needed}"
            if demand.status == "filled":
                assert seated == demand.needed, f"filled with seats free: {seated}/{demand.needed}"
            if demand.status in ("withdrawn", "expired"):
                assert not live, f"{demand.status} demand keeps live claims: {[c.status for c in live]}"
            if demand.status in ("fulfilled", "closed"):
                unsettled = [c.status for c in live if c.status in ("pending", "waitlisted", "confirmed",
                                                                    "checked_in")]
                assert not unsettled, f"{demand.status} demand keeps {unsettled} claims"
            if demand.status in ("draft", "pending_review", "rejected"):
                assert not claims

    @invariant()
    def rebuilt_equals_live(self):
        if self.app is None:
            return
        for aggregate_id, live in self.live.items():
            stored = self.app.repository.get(aggregate_id)
            replayed = fold(self.app, aggregate_id)
            assert vars(replayed) == vars(stored), f"snapshot path differs from a full replay: {aggregate_id}"
            assert stored.version >= live.version
            if stored.version == live.version:
                assert vars(live) == vars(stored), f"live {type(live).__name__} differs from its events"
            else:  # changed since by another command: the stored history at that version is the live one
                then = self.app.repository.get(aggregate_id, version=live.version)
                assert vars(live) == vars(then)
                folded = project_aggregate(None, self.app.events.get(aggregate_id, lte=live.version))
                assert vars(folded) == vars(live)

    @invariant()
    def every_event_says_who_and_why(self):
        if self.app is None:
            return
        new = self.app.recorder.select_notifications(self.checked_position + 1, 10_000)
        batch = []
        for notification in new:
            stored = self.app.mapper.to_domain_event(notification)
            meta = getattr(stored, "meta", None)
            assert isinstance(meta, dict), f"{type(stored).__name__} stored without meta"
            assert META_KEYS <= set(meta), meta
            assert all(isinstance(meta[k], str) and meta[k] for k in META_KEYS), meta
            assert meta["actor_role"] in ROLES, meta
            self.events_seen[f"{stored.originator_id}:{stored.originator_version}"] = meta
            batch.append(meta)
            self.checked_position = notification.id
        for meta in batch:
            if meta["causation_id"] == meta["correlation_id"]:
                continue
            cause = self.events_seen.get(meta["causation_id"])
            assert cause is not None, f"causation {meta['causation_id']} names no stored event"
            if cause["correlation_id"] == meta["correlation_id"]:  # a policy reacting inside one command
                assert (meta["actor_id"], meta["actor_role"]) == ("system", "system"), meta


TestDemandMachine = DemandMachine.TestCase
TestDemandMachine.settings = settings(
    max_examples=80, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
