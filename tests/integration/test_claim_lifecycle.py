"""The Claim lifecycle of DESIGN §3, driven over HTTP, case by case from `domain.claim.LIFECYCLE`.

For every row of the table (trigger, sources, dest, roles):
- the trigger is accepted from each source state, by the owner and by the claimant where the
  row names them, and the demand's seat count follows;
- it is refused from every other state with 409 `invalid-transition`;
- it is refused with 403 to every party the row does not name, and with 401 to anonymous callers;
- refusals record nothing.
Then the guards and arguments of the rows: capacity, check-in only once the demand is in
progress, hours, rating, reason, no-show only after start + grace (by the owner or the timers).

Speed: most tests share one system per backend (`shared`). Refusals run against a stock of one
claim per state, built once: a refusal changes nothing (each of those tests checks that the
event store did not grow), so they may all start from the same claim. Tests that
change something build their own claim. The shared system never runs its timers; tests that
need the timers use the per-test `api` of conftest.
"""
import uuid
from datetime import datetime, timedelta

import pytest

from domain.claim import LIFECYCLE
from tests.support import ACTION_BODIES, BACKENDS, CLAIM_PATHS, Api, Party, expect_problem, fire, may_fire, module_api

STATES = LIFECYCLE.states
ROWS = {r.trigger: r for r in LIFECYCLE.rows}
assert set(CLAIM_PATHS) == set(STATES), "tests/support.py must know a path to every claim state"
# every claim row names a user (those that list `system` too are also fired by policies and timers)
assert all(r.roles - {"system"} for r in LIFECYCLE.rows)

# who may call, and what each is to a claim (the words of the table's "who" column)
PARTIES = ("admin", "owner", "other_org", "claimant", "other_member", "auditor", "dept")
RELATIONS = {"admin": {"admin"}, "owner": {"owner"}, "claimant": {"claimant"}}
# DESIGN §3 invariant: these claims hold seats of their demand
SEATED = ("confirmed", "checked_in", "completed", "verified")
GRACE = timedelta(minutes=15)


def relations(who: str) -> set[str]:
    return RELATIONS.get(who, set())


def case_id(trigger: str, state: str, who: str | None = None) -> str:
    return f"{trigger}-from-{state}" + (f"-by-{who}" if who else "")


# -- the shared system, its parties and its stock of claims --------------------------------------

class World:
    """A system shared by the tests of this module on one backend, the parties acting on it and
    one claim in each state, each on a demand of its own (for refusals only)."""

    def __init__(self, api: Api):
        self.api = api
        department = api.ok(api.post("/departments", {"code": f"D{uuid.uuid4().hex[:6]}", "name": "鼓楼区民政局"},
                                     api.admin), 201)
        owner, other_org = api.org(), api.org()
        self.parties: dict[str, Party] = {
            "admin": api.admin, "owner": owner, "other_org": other_org, "claimant": api.member(org=other_org),
            "other_member": api.member(org=other_org), "auditor": api.auditor(),
            "dept": api.token("dept", department["id"]),
        }
        # more claimants for tests that put several claims on one demand
        self.volunteers = [api.member(org=other_org) for _ in range(2)]
        self.stock = {state: api.claim_in(state, owner, self.claimant) for state in STATES}

    @property
    def owner(self) -> Party:
        return self.parties["owner"]

    @property
    def claimant(self) -> Party:
        return self.parties["claimant"]

    def claim(self, state: str) -> dict:
        return self.stock[state][1]


@pytest.fixture(scope="module", params=BACKENDS)
def shared(request, tmp_path_factory) -> World:
    with module_api(request, tmp_path_factory, "claim-lifecycle") as api:
        yield World(api)


def get(api: Api, kind: str, record: dict, by: Party | None = None) -> dict:
    return api.ok(api.get(f"/{kind}/{record['id']}", by or api.admin))


def assert_nothing_recorded(api: Api, events_before: int) -> None:
    assert api.event_count() == events_before, "a refused action recorded events"


def service_hours(api: Api, member: Party) -> float:
    return api.ok(api.get(f"/members/{member.id}/service-record", member))["total_hours"]


def late(api: Api, demand: dict, minutes: float) -> None:
    """Set the clock `minutes` after the demand's start."""
    api.clock.set(datetime.fromisoformat(demand["starts_at"]) + timedelta(minutes=minutes))


# -- accepted from each source state --------------------------------------------------------------

ACCEPTED = [(r.trigger, source, who) for r in LIFECYCLE.rows for source in r.sources
            for who in ("owner", "claimant") if relations(who) & r.roles]


@pytest.mark.parametrize("trigger,state,who", ACCEPTED, ids=[case_id(*case) for case in ACCEPTED])
def test_a_trigger_is_accepted_from_each_of_its_source_states_by_each_role_of_its_row(
        shared, trigger, state, who):
    api, owner, claimant = shared.api, shared.owner, shared.claimant
    demand, claim = api.claim_in(state, owner, claimant)
    if trigger == "check_in":
        api.act("demands", demand["id"], "start", owner)
    if trigger == "no_show":
        late(api, demand, GRACE.total_seconds() / 60 + 1)
    hours_before = service_hours(api, claimant) if trigger == "verify" else None
    before = api.event_count()

    done = api.act("claims", claim["id"], trigger, shared.parties[who])

    dest = ROWS[trigger].dest
    assert done["status"] == dest
    assert done["version"] > claim["version"] and api.event_count() > before
    assert done["allowed_actions"] == may_fire(LIFECYCLE, dest, relations(who))
    as_owner, as_claimant = (get(api, "claims", claim, by) for by in (owner, claimant))
    assert (as_owner["status"], as_owner["version"]) == (dest, done["version"])
    assert as_owner["allowed_actions"] == may_fire(LIFECYCLE, dest, relations("owner"))
    assert as_claimant["allowed_actions"] == may_fire(LIFECYCLE, dest, relations("claimant"))
    if trigger == "complete":
        assert as_owner["hours"] == ACTION_BODIES["complete"]["hours"]
    if trigger == "verify":
        assert as_owner["rating"] == ACTION_BODIES["verify"]["rating"]
        assert service_hours(api, claimant) == hours_before + ACTION_BODIES["complete"]["hours"]
    if trigger == "decline":
        assert as_owner["reason"] == ACTION_BODIES["decline"]["reason"]
    seats = get(api, "demands", demand)
    assert (seats["confirmed"], seats["waitlisted"]) == (int(dest in SEATED), int(dest == "waitlisted"))


def test_an_organisation_that_claimed_may_cancel_its_own_claim(shared):
    api, owner, other_org = shared.api, shared.owner, shared.parties["other_org"]
    demand = api.demand(owner, "open")
    claim = api.claim(demand, other_org)
    assert claim["allowed_actions"] == may_fire(LIFECYCLE, "pending", relations("claimant"))

    cancelled = api.act("claims", claim["id"], "cancel", other_org)

    assert (cancelled["status"], cancelled["allowed_actions"]) == ("cancelled", [])


# -- refused from every other state ---------------------------------------------------------------

REFUSED = [(r.trigger, state) for r in LIFECYCLE.rows for state in STATES if state not in r.sources]


@pytest.mark.parametrize("trigger,state", REFUSED, ids=[case_id(*case) for case in REFUSED])
def test_a_trigger_fired_outside_its_source_states_is_an_invalid_transition_and_records_nothing(
        shared, trigger, state):
    api, claim = shared.api, shared.claim(state)
    before = api.event_count()

    response = fire(api, "claims", claim, trigger, shared.owner)

    problem = expect_problem(response, 409, "invalid-transition")
    assert problem["current_status"] == state
    assert isinstance(problem["allowed_actions"], list)
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, state, relations("owner"))
    assert trigger not in problem["allowed_actions"]
    assert_nothing_recorded(api, before)


# -- refused to every role the row does not name --------------------------------------------------

FORBIDDEN = [(r.trigger, r.sources[0], who) for r in LIFECYCLE.rows for who in PARTIES
             if not relations(who) & r.roles]


@pytest.mark.parametrize("trigger,state,who", FORBIDDEN, ids=[case_id(*case) for case in FORBIDDEN])
def test_a_party_the_row_does_not_name_is_forbidden_and_nothing_is_recorded(shared, trigger, state, who):
    api, claim = shared.api, shared.claim(state)
    before = api.event_count()

    response = fire(api, "claims", claim, trigger, shared.parties[who])

    expect_problem(response, 403, "forbidden")
    assert_nothing_recorded(api, before)


ANONYMOUS = [(r.trigger, r.sources[0]) for r in LIFECYCLE.rows]


@pytest.mark.parametrize("trigger,state", ANONYMOUS, ids=[case_id(*case) for case in ANONYMOUS])
def test_an_anonymous_caller_is_unauthorised_for_every_trigger(shared, trigger, state):
    api, claim = shared.api, shared.claim(state)
    before = api.event_count()

    response = fire(api, "claims", claim, trigger, None)

    expect_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_nothing_recorded(api, before)


def test_a_trigger_that_is_not_in_the_table_is_not_found(shared):
    api, claim = shared.api, shared.claim("pending")
    before = api.event_count()
    expect_problem(fire(api, "claims", claim, "approve", shared.owner), 404, "not-found")
    assert_nothing_recorded(api, before)


def test_every_state_lists_for_each_party_exactly_the_triggers_of_the_table(shared):
    api = shared.api
    readers = ("admin", "owner", "claimant", "auditor")  # who reads a claim (DESIGN §6)
    seen = {(state, who): get(api, "claims", shared.claim(state), shared.parties[who])["allowed_actions"]
            for state in STATES for who in readers}
    assert seen == {(state, who): may_fire(LIFECYCLE, state, relations(who)) for state, who in seen}
    for who in set(PARTIES) - set(readers):
        expect_problem(api.get(f"/claims/{shared.claim('pending')['id']}", shared.parties[who]), 404, "not-found")


# -- guards and arguments -------------------------------------------------------------------------

def test_confirming_is_refused_when_the_seats_left_are_too_few(shared):
    api, owner, (first, second) = shared.api, shared.owner, shared.volunteers
    demand = api.demand(owner, "open", needed=2)
    seated = api.claim(demand, first)
    api.act("claims", seated["id"], "confirm", owner)
    too_many = get(api, "claims", api.claim(demand, second, headcount=2))
    before = api.event_count()

    expect_problem(fire(api, "claims", too_many, "confirm", owner), 409, "capacity-exceeded")

    assert_nothing_recorded(api, before)
    assert get(api, "demands", demand)["confirmed"] == 1


@pytest.mark.parametrize("demand_state", ["open", "filled"])
def test_checking_in_needs_the_demand_in_progress(shared, demand_state):
    api, owner, claimant = shared.api, shared.owner, shared.claimant
    demand = api.demand(owner, "open", needed=1 if demand_state == "filled" else 2)
    claim = api.claim(demand, claimant)
    claim = api.act("claims", claim["id"], "confirm", owner)
    assert get(api, "demands", demand)["status"] == demand_state
    before = api.event_count()

    response = fire(api, "claims", claim, "check_in", claimant)

    problem = expect_problem(response, 409, "guard-failed")
    assert problem["current_status"] == "confirmed"
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, "confirmed", relations("claimant"))
    assert_nothing_recorded(api, before)


@pytest.mark.parametrize("hours", [None, 0, -1, 24.01, 25, "3", True], ids=repr)
def test_completing_needs_hours_above_0_and_at_most_24(shared, hours):
    api, claim = shared.api, shared.claim("checked_in")
    before = api.event_count()
    body = {} if hours is None else {"hours": hours}

    expect_problem(fire(api, "claims", claim, "complete", shared.claimant, body), 422, "validation")

    assert_nothing_recorded(api, before)


@pytest.mark.parametrize("hours", [0.25, 24])
def test_completing_accepts_hours_up_to_a_whole_day(shared, hours):
    api = shared.api
    _, claim = api.claim_in("checked_in", shared.owner, shared.claimant)
    done = api.act("claims", claim["id"], "complete", shared.claimant, {"hours": hours})
    assert (done["status"], done["hours"]) == ("completed", hours)


@pytest.mark.parametrize("rating", [None, 0, 6, 4.5, "5", True], ids=repr)
def test_verifying_needs_a_rating_from_1_to_5(shared, rating):
    api, claim = shared.api, shared.claim("completed")
    before = api.event_count()
    body = {} if rating is None else {"rating": rating}

    expect_problem(fire(api, "claims", claim, "verify", shared.owner, body), 422, "validation")

    assert_nothing_recorded(api, before)


@pytest.mark.parametrize("state", ROWS["decline"].sources)
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}], ids=["no-reason", "empty", "blank"])
def test_declining_needs_a_reason(shared, state, body):
    api, claim = shared.api, shared.claim(state)
    before = api.event_count()

    expect_problem(fire(api, "claims", claim, "decline", shared.owner, body), 422, "validation")

    assert_nothing_recorded(api, before)


@pytest.mark.parametrize("minutes", [-60, 0, 14, 15])
def test_no_show_may_be_marked_only_after_the_start_plus_grace(shared, minutes):
    api, owner = shared.api, shared.owner
    demand, claim = api.claim_in("confirmed", owner, shared.claimant)
    late(api, demand, minutes)
    before = api.event_count()

    problem = expect_problem(fire(api, "claims", claim, "no_show", owner), 409, "guard-failed")

    assert problem["current_status"] == "confirmed"
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, "confirmed", relations("owner"))
    assert_nothing_recorded(api, before)


def test_the_timers_mark_no_show_the_claims_still_confirmed_after_the_start_plus_grace(api):
    owner = api.org()
    demand = api.demand(owner, "open", needed=3)
    absent, present, pending = (api.claim(demand, api.member()) for _ in range(3))
    for claim in (absent, present):
        api.act("claims", claim["id"], "confirm", owner)
    api.act("demands", demand["id"], "start", owner)
    api.act("claims", present["id"], "check_in", owner)
    for minutes in (14, 15):  # not yet: the grace runs until start + 15 minutes
        late(api, demand, minutes)
        api.tick()
        assert get(api, "claims", absent)["status"] == "confirmed"

    late(api, demand, 16)
    api.tick()

    statuses = {name: get(api, "claims", claim)["status"]
                for name, claim in (("absent", absent), ("present", present), ("pending", pending))}
    assert statuses == {"absent": "no_show", "present": "checked_in", "pending": "pending"}
    assert get(api, "claims", absent, owner)["allowed_actions"] == may_fire(LIFECYCLE, "no_show", relations("owner")) == []
    assert get(api, "demands", demand)["confirmed"] == 1
    assert api.tick() == 0, "a second run finds nothing left to mark"
