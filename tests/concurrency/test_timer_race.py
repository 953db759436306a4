"""Two timer loops racing on PostgreSQL over the same overdue deadlines.

Acceptance (DESIGN §2 "Time"): timers fire exactly once — two timer loops running at once on
PostgreSQL produce one `no_show` / `expire` event per booking; and likewise one `Expired`
per demand whose claim deadline passed with nobody confirmed and one `MarkedNoShow` per
confirmed claim nobody checked into.

Each round the parent, on its own system and clock, prepares through the workflows (the
deadlines read model is fed by the parent's projector):
- 20 confirmed bookings on 4 venues without approval (5 each, none checked in) → no_show;
- 20 requested bookings on 4 venues requiring approval → expire;
- 5 checked-in bookings on a venue without approval → complete (at their end);
- 10 open demands nobody claimed → expire at their claim deadline;
- 10 open demands with one confirmed claim each → the claim is a no-show; the demand's own
  expiry deadline does nothing while the claim is confirmed, and the demand expires once the
  no-show has left it with nobody confirmed (docs/decisions.md) — whichever loop gets there.
Two spawned processes, each with its own system (own pool, own FakeClock, set past every
deadline with `system.clock.set`), wait on one Barrier and run `timers.tick()` three times
each. The parent then reads every context's notification log (the event store, not a read
model) and counts per aggregate. The round is repeated on fresh aggregates 10 days later.

Pools stay small (PostgreSQL allows 100 connections and other suites share the server): the
parent runs with pool_size=2, each process with pool_size=1; processes build their systems one
at a time (see test_slot_race: building several at one instant is a separate, known failure).
"""
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import pytest

from domain.actors import Actor, Role
from domain.booking import Booking
from domain.claim import Claim
from domain.demand import Demand
from domain.schedule import VenueDay, day_id
from domain.venue import CITY_TZ
from tests.concurrency.harness import Processes
from tests.support import START, new_system
from workflows.engine import Meta

pytestmark = pytest.mark.postgres

PROCESSES = 2
ROUNDS = 2
TICKS = 3
WORKER_POOL_SIZE = 1
ROUND_GAP = timedelta(days=10)
LATE = timedelta(days=5)  # after the round's base time: past every deadline of the round

OWNER = Actor(str(uuid5(NAMESPACE_URL, "linli-test:org-timer-owner")), Role.ORG)
GRID = str(uuid5(NAMESPACE_URL, "linli-test:grid-timer"))
ADMIN = Actor("admin", Role.ADMIN)
MEMBERS = [Actor(f"member-timer-{n}", Role.MEMBER) for n in range(10)]


# -- the timer processes -----------------------------------------------------------------------------
@contextmanager
def ticking(system):
    """Per round: set this process's clock, then run the timers TICKS times (tests/concurrency/harness.py)."""
    def run(when: datetime) -> list[int]:
        system.clock.set(when)
        return [system.timers.tick() for _ in range(TICKS)]

    yield run


# -- preparing a round in the parent -------------------------------------------------------------------
def local(day, hhmm: str) -> datetime:
    return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), CITY_TZ)


def register_owner(system) -> None:
    """The owner's organisation and grid, as the applications check references (a repeat does nothing)."""
    system.registry.register(Meta(ADMIN), "grid", UUID(GRID), code="GT", name="计时网格", type="街区型", district="鼓楼区")
    system.registry.register(Meta(ADMIN), "organisation", UUID(OWNER.id), name="计时党委", kind="党组织", grid_id=GRID,
                             district="鼓楼区")


def share_venue(system, requires_approval: bool) -> UUID:
    venue_id = uuid4()
    system.venues.share_venue(Meta(OWNER), venue_id, OWNER.id, name="鼓楼区党群服务中心多功能厅", address="鼓楼区东街1号",
                              grid_id=GRID, capacity=50, opens_at="08:00", closes_at="21:00",
                              requires_approval=requires_approval, min_notice_hours=2, max_advance_days=30,
                              cancel_lock_hours=24, blackouts=[])
    return venue_id


def book(system, venue_id: UUID, by: Actor, day, slot: tuple[str, str], status: str) -> UUID:
    booking_id = uuid4()
    outcome = system.venues.book(Meta(by), booking_id, venue_id, local(day, slot[0]), local(day, slot[1]), 10,
                                 "支部主题党日活动")
    assert outcome.value.status == status
    return booking_id


def post_open_demand(system, base: datetime, n: int) -> UUID:
    demand_id = uuid4()
    deadline = base + timedelta(days=1, minutes=n)
    starts_at = base + timedelta(days=2, minutes=n)
    system.demands.post_demand(Meta(OWNER), demand_id, OWNER.id, title="社区助老志愿服务", description="陪伴老人",
                               category="助老服务", grid_id=GRID, needed=2, claim_deadline=deadline,
                               starts_at=starts_at, ends_at=starts_at + timedelta(hours=3),
                               auto_confirm=False)
    system.demands.act_on_demand(Meta(OWNER), demand_id, "submit")
    assert system.demands.act_on_demand(Meta(ADMIN), demand_id, "approve").value.status == "open"
    return demand_id


SLOTS = [("09:00", "10:00"), ("10:30", "11:30"), ("12:00", "13:00"), ("14:00", "15:00"), ("16:00", "17:00")]


def prepare_round(system, base: datetime) -> dict[str, list[UUID]]:
    """The round's aggregates, by what the timers must do to them. `base` is the parent's clock."""
    system.clock.set(base)
    register_owner(system)
    day = (base.astimezone(CITY_TZ) + timedelta(days=2)).date()
    made: dict[str, list[UUID]] = {"no_show": [], "expire": [], "complete": [], "demand_expire": [],
                                   "claim_no_show": [], "demand_kept": []}
    for v in range(4):
        open_venue, approval_venue = share_venue(system, False), share_venue(system, True)
        for k, slot in enumerate(SLOTS):
            member = MEMBERS[(v * 5 + k) % len(MEMBERS)]
            made["no_show"].append(book(system, open_venue, member, day, slot, "confirmed"))
            made["expire"].append(book(system, approval_venue, member, day, slot, "requested"))
    used_venue = share_venue(system, False)
    for k, slot in enumerate(SLOTS):
        made["complete"].append(book(system, used_venue, MEMBERS[k], day, slot, "confirmed"))
    for n in range(10):
        made["demand_expire"].append(post_open_demand(system, base, n))
        kept = post_open_demand(system, base, 100 + n)
        claim_id = uuid4()
        system.demands.make_claim(Meta(MEMBERS[n]), claim_id, kept)
        assert system.demands.act_on_claim(Meta(OWNER), claim_id, "confirm").value.status == "confirmed"
        made["demand_kept"].append(kept)
        made["claim_no_show"].append(claim_id)
    # check in the used venue's bookings at their start (the clock walks forward through the day)
    for booking_id, slot in zip(made["complete"], SLOTS, strict=True):
        system.clock.set(local(day, slot[0]))
        outcome = system.venues.act_on_booking(Meta(MEMBERS[made["complete"].index(booking_id)]), booking_id,
                                               "check_in")
        assert outcome.value.status == "checked_in"
    system.project()  # the deadlines read model, which the timer processes read
    return made


# -- reading what was stored ---------------------------------------------------------------------------
def stored_events(system) -> list:
    events = []
    for app in (system.venues, system.demands):
        events += [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 1_000_000)]
    return events


def test_two_timer_loops_fire_each_deadline_exactly_once(pg_url, pg_schema):
    system = new_system(database_url=pg_url, database_schema=pg_schema, pool_size=2)
    try:
        with Processes(PROCESSES, pg_url, pg_schema, ticking, WORKER_POOL_SIZE) as loops:
            for r in range(ROUNDS):
                base = START + r * ROUND_GAP
                made = prepare_round(system, base)
                late = base + LATE
                assert system.timers.deadlines.due(base, limit=1000) == []  # nothing of this round due yet

                fired = loops.run([late] * PROCESSES)

                events = stored_events(system)
                count = Counter((type(e), e.originator_id) for e in events)
                expect = {Booking.MarkedNoShow: made["no_show"], Booking.Expired: made["expire"],
                          Booking.Completed: made["complete"], Demand.Expired: made["demand_expire"],
                          Claim.MarkedNoShow: made["claim_no_show"]}
                for kind, ids in expect.items():
                    counts = {i: count[(kind, i)] for i in ids}
                    assert set(counts.values()) == {1}, f"round {r}: {kind.__qualname__} each {counts}"
                kept_expired = {i: count[(Demand.Expired, i)] for i in made["demand_kept"]}
                assert set(kept_expired.values()) == {1}, f"round {r}: kept demands expired {kept_expired}"
                expect[Demand.Expired] = made["demand_expire"] + made["demand_kept"]
                # and none on anything else: a loop that lost a race re-decided and did nothing
                timer_kinds = tuple(expect)
                this_round = {i for ids in made.values() for i in ids}
                total = sum(len(ids) for ids in expect.values())
                assert sum(map(sum, fired)) == total, f"round {r}: fired {fired}, expected {total}"
                assert sum(isinstance(e, timer_kinds) for e in events) == total * (r + 1)

                # every timer event names the system as actor and the event that set its deadline as
                # cause: its own previous event, or for a kept demand the claim's no-show that re-armed it
                claim_on = {e.demand_id: e for e in events if isinstance(e, Claim.Made)}
                for e in events:
                    if isinstance(e, timer_kinds) and e.originator_id in this_round:
                        assert e.meta["actor_role"] == "system" and e.meta["actor_id"] == "system", e.meta
                        causes = {f"{e.originator_id}:{e.originator_version - 1}"}
                        if e.originator_id in made["demand_kept"]:
                            claim_id = claim_on[str(e.originator_id)].originator_id
                            causes = {f"{c.originator_id}:{c.originator_version}" for c in events
                                      if isinstance(c, (Demand.Approved, Claim.MarkedNoShow))
                                      and c.originator_id in (e.originator_id, claim_id)}
                        assert e.meta["causation_id"] in causes, e.meta

                # the stored states agree, and the no-shows' slots were released exactly once
                for kind, status in (("no_show", "no_show"), ("expire", "expired"),
                                     ("complete", "completed")):
                    assert {system.venues.get(i, Booking).status for i in made[kind]} == {status}
                assert {system.demands.get(i, Demand).status
                        for i in made["demand_expire"] + made["demand_kept"]} == {"expired"}
                assert {system.demands.get(i, Claim).status for i in made["claim_no_show"]} == {"no_show"}
                released = Counter(e.booking_id for e in events if isinstance(e, VenueDay.Released))
                assert all(released[str(i)] == 1 for i in made["no_show"]), released
                for i in made["no_show"]:
                    b = system.venues.get(i, Booking)
                    day = b.starts_at.astimezone(CITY_TZ).date()
                    vday = system.venues.repository.get(day_id(b.venue_id, day))
                    assert str(i) not in vday.slots

                # nothing of the round is left to fire
                system.clock.set(late)
                system.project()
                assert system.timers.tick() == 0
                assert system.timers.deadlines.due(late, limit=1000) == []
    finally:
        system.shutdown()
