"""The Demand lifecycle of DESIGN §3, driven over HTTP, case by case from `domain.demand.LIFECYCLE`.

For every row of the table (trigger, sources, dest, roles):
- the trigger is accepted from each source state, by each human role of the row;
- it is refused from every other state with 409 `invalid-transition`;
- it is refused with 403 to every party the row does not name (404 to a party who cannot see
  the demand at all, see docs/decisions.md), and with 401 to anonymous callers;
- refusals record nothing.
The system rows (fill, reopen, expire) are shown to happen by themselves, and not otherwise.

Speed: most tests share one system per backend (`shared`). Refusals run against a stock of one
demand per state, built once: a refusal changes nothing (each of those tests checks that the
event store did not grow), so they may all start from the same demand. Tests
that change something build their own demands. The shared system never runs its timers after
the stock is built; tests that need the timers use the per-test `api` of conftest.
"""
import uuid
from datetime import datetime, timedelta

import pytest

from domain.demand import LIFECYCLE
from tests.support import ACTION_BODIES, BACKENDS, DEMAND_PATHS, Api, Party, expect_problem, fire, may_fire, module_api

STATES = LIFECYCLE.states
ROWS = {r.trigger: r for r in LIFECYCLE.rows}
SYSTEM_ROWS = [r for r in LIFECYCLE.rows if r.roles == {"system"}]
USER_ROWS = [r for r in LIFECYCLE.rows if r.roles - {"system"}]
assert set(DEMAND_PATHS) == set(STATES), "tests/support.py must know a path to every demand state"

# who may call, and what each is to a demand of `owner` (the words of the table's "who" column)
PARTIES = ("admin", "owner", "other_org", "member", "auditor", "dept")
RELATIONS = {"admin": {"admin"}, "owner": {"owner"}}
# not yet (or no longer) on the board: seen only by the owner, the operator and auditors
PRIVATE_STATES = ("draft", "pending_review", "rejected", "withdrawn")
SEE_PRIVATE = ("admin", "owner", "auditor")
REVISION = {"title": "社区助老志愿服务（修订）"}


def relations(who: str) -> set[str]:
    return RELATIONS.get(who, set())


BODIES = {**ACTION_BODIES, "revise": REVISION}


def body_for(trigger: str) -> dict:
    return BODIES.get(trigger, {})


def sees(who: str, state: str) -> bool:
    return state not in PRIVATE_STATES or who in SEE_PRIVATE


def refusal_source(row) -> str:
    """A source state of the row that everyone can see, when there is one, so that a refusal is
    about the caller's role and not about visibility."""
    return next((s for s in row.sources if s not in PRIVATE_STATES), row.sources[0])


def case_id(trigger: str, state: str, who: str | None = None) -> str:
    return f"{trigger}-from-{state}" + (f"-by-{who}" if who else "")


# -- the shared system, its parties and its stock of demands ------------------------------------

class World:
    """A system shared by the tests of this module on one backend, the parties acting on it and
    one demand in each state (for refusals only)."""

    def __init__(self, api: Api):
        self.api = api
        department = api.ok(api.post("/departments", {"code": f"D{uuid.uuid4().hex[:6]}", "name": "鼓楼区民政局"},
                                     api.admin), 201)
        self.parties: dict[str, Party] = {
            "admin": api.admin, "owner": api.org(), "other_org": api.org(), "member": api.member(),
            "auditor": api.auditor(), "dept": api.token("dept", department["id"]),
        }
        # claimants for the demands tests build here (a claimant may claim each demand once)
        self.volunteers = [api.member(org=self.parties["other_org"]) for _ in range(3)]
        # `expired` first: reaching it moves the clock past its claim deadline and runs the timers,
        # which would expire any other open demand already built
        self.stock = {"expired": api.demand(self.owner, "expired")}
        self.stock.update({state: api.demand(self.owner, state) for state in STATES if state != "expired"})

    @property
    def owner(self) -> Party:
        return self.parties["owner"]


@pytest.fixture(scope="module", params=BACKENDS)
def shared(request, tmp_path_factory) -> World:
    with module_api(request, tmp_path_factory, "demand-lifecycle") as api:
        yield World(api)


def claims_of(api: Api, demand: dict, by: Party) -> list[dict]:
    return api.ok(api.get(f"/demands/{demand['id']}/claims", by))["items"]


def demand_ready_for(shared: World, trigger: str, state: str) -> dict:
    """A fresh demand in `state` whose guards let `trigger` through."""
    api, owner = shared.api, shared.owner
    demand = api.demand(owner, state, needed=1) if state == "filled" else api.demand(owner, state)
    if trigger == "start" and demand["confirmed"] == 0:
        claim = api.claim(demand, shared.volunteers[0])
        api.act("claims", claim["id"], "confirm", owner)
    if trigger == "fulfil":
        for claim in claims_of(api, demand, owner):
            api.act("claims", claim["id"], "check_in", owner)
            api.act("claims", claim["id"], "complete", owner)
    return api.ok(api.get(f"/demands/{demand['id']}", owner))


def assert_nothing_recorded(api: Api, events_before: int) -> None:
    assert api.event_count() == events_before, "a refused action recorded events"


# -- accepted from each source state --------------------------------------------------------------

ACCEPTED = [(r.trigger, source, who) for r in USER_ROWS for source in r.sources for who in ("owner", "admin")
            if relations(who) & r.roles]


@pytest.mark.parametrize("trigger,state,who", ACCEPTED, ids=[case_id(*case) for case in ACCEPTED])
def test_a_trigger_is_accepted_from_each_of_its_source_states_by_each_role_of_its_row(
        shared, trigger, state, who):
    api, row = shared.api, ROWS[trigger]
    demand = demand_ready_for(shared, trigger, state)
    before = api.event_count()

    done = api.act("demands", demand["id"], trigger, shared.parties[who], body_for(trigger))

    dest = row.dest or state
    assert done["status"] == dest
    assert done["version"] > demand["version"] and api.event_count() > before
    assert done["allowed_actions"] == may_fire(LIFECYCLE, dest, relations(who))
    stored = api.ok(api.get(f"/demands/{demand['id']}", shared.owner))
    assert (stored["status"], stored["version"]) == (dest, done["version"])
    assert stored["allowed_actions"] == may_fire(LIFECYCLE, dest, relations("owner"))
    if trigger == "revise":
        assert stored["title"] == REVISION["title"]
    if trigger in ("reject", "withdraw"):
        assert stored["reason"] == ACTION_BODIES[trigger]["reason"]
    if trigger == "close":
        assert (stored["rating"], stored["feedback"]) == (5, "很好")


# -- refused from every other state ---------------------------------------------------------------

REFUSED = [(r.trigger, state) for r in USER_ROWS for state in STATES if state not in r.sources]


@pytest.mark.parametrize("trigger,state", REFUSED, ids=[case_id(*case) for case in REFUSED])
def test_a_trigger_fired_outside_its_source_states_is_an_invalid_transition_and_records_nothing(
        shared, trigger, state):
    api, demand = shared.api, shared.stock[state]
    who = "owner" if "owner" in ROWS[trigger].roles else "admin"
    before = api.event_count()

    response = fire(api, "demands", demand, trigger, shared.parties[who], bodies=BODIES)

    problem = expect_problem(response, 409, "invalid-transition")
    assert problem["current_status"] == state
    assert isinstance(problem["allowed_actions"], list)
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, state, relations(who))
    assert trigger not in problem["allowed_actions"]
    assert_nothing_recorded(api, before)


# -- refused to every role the row does not name --------------------------------------------------

NOT_ALLOWED = [(r.trigger, refusal_source(r), who) for r in LIFECYCLE.rows for who in PARTIES
               if not relations(who) & r.roles]
FORBIDDEN = [case for case in NOT_ALLOWED if sees(case[2], case[1])]
HIDDEN = [case for case in NOT_ALLOWED if not sees(case[2], case[1])]


@pytest.mark.parametrize("trigger,state,who", FORBIDDEN, ids=[case_id(*case) for case in FORBIDDEN])
def test_a_party_the_row_does_not_name_is_forbidden_and_nothing_is_recorded(shared, trigger, state, who):
    api, demand = shared.api, shared.stock[state]
    before = api.event_count()

    response = fire(api, "demands", demand, trigger, shared.parties[who], bodies=BODIES)

    expect_problem(response, 403, "forbidden")
    assert_nothing_recorded(api, before)


@pytest.mark.parametrize("trigger,state,who", HIDDEN, ids=[case_id(*case) for case in HIDDEN])
def test_a_party_who_cannot_see_a_private_demand_cannot_act_on_it_either(shared, trigger, state, who):
    api, demand = shared.api, shared.stock[state]
    party = shared.parties[who]
    expect_problem(api.get(f"/demands/{demand['id']}", party), 404, "not-found")
    before = api.event_count()

    response = fire(api, "demands", demand, trigger, party, bodies=BODIES)

    expect_problem(response, 404, "not-found")
    assert_nothing_recorded(api, before)


ANONYMOUS = [(r.trigger, refusal_source(r)) for r in LIFECYCLE.rows]


@pytest.mark.parametrize("trigger,state", ANONYMOUS, ids=[case_id(*case) for case in ANONYMOUS])
def test_an_anonymous_caller_is_unauthorised_for_every_trigger(shared, trigger, state):
    api, demand = shared.api, shared.stock[state]
    before = api.event_count()

    response = fire(api, "demands", demand, trigger, None, bodies=BODIES)

    expect_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_nothing_recorded(api, before)


def test_an_unknown_token_is_unauthorised(shared):
    api, demand = shared.api, shared.stock["pending_review"]
    before = api.event_count()
    response = api.post(f"/demands/{demand['id']}/actions/approve", {},
                        headers={"Authorization": "Bearer not-a-token"})
    expect_problem(response, 401, "unauthenticated")
    assert_nothing_recorded(api, before)


def test_a_trigger_that_is_not_in_the_table_is_not_found(shared):
    api, demand = shared.api, shared.stock["open"]
    before = api.event_count()
    expect_problem(fire(api, "demands", demand, "publish", shared.owner, bodies=BODIES), 404, "not-found")
    assert_nothing_recorded(api, before)


def test_every_state_lists_for_each_party_exactly_the_triggers_of_the_table(shared):
    api = shared.api
    seen = {(state, who): api.ok(api.get(f"/demands/{shared.stock[state]['id']}", shared.parties[who]))[
        "allowed_actions"] for state in STATES for who in PARTIES if sees(who, state)}
    assert seen == {(state, who): may_fire(LIFECYCLE, state, relations(who)) for state, who in seen}
    anonymous = {state: api.ok(api.get(f"/demands/{shared.stock[state]['id']}"))["allowed_actions"]
                 for state in STATES if sees("anyone", state)}
    assert anonymous == {state: [] for state in anonymous}


# -- the system rows: fill, reopen, expire -----------------------------------------------------

def confirmed_claim(api: Api, demand: dict, owner: Party, by: Party, headcount: int = 1) -> dict:
    claim = api.claim(demand, by, headcount)
    return api.act("claims", claim["id"], "confirm", owner)


def demand_status(api: Api, demand: dict) -> str:
    return api.ok(api.get(f"/demands/{demand['id']}", api.admin))["status"]


def test_an_open_demand_fills_by_itself_when_confirmed_headcount_reaches_needed(shared):
    api, owner, (first, second, _) = shared.api, shared.owner, shared.volunteers
    demand = api.demand(owner, "open", needed=3)
    confirmed_claim(api, demand, owner, first)
    assert demand_status(api, demand) == "open"

    confirmed_claim(api, demand, owner, second, headcount=2)

    filled = api.ok(api.get(f"/demands/{demand['id']}", owner))
    assert (filled["status"], filled["confirmed"], filled["needed"]) == ("filled", 3, 3)
    assert filled["allowed_actions"] == may_fire(LIFECYCLE, "filled", relations("owner"))


def test_a_demand_with_auto_confirm_fills_when_the_claim_that_takes_the_last_seat_is_made(shared):
    api, owner = shared.api, shared.owner
    demand = api.demand(owner, "open", needed=1, auto_confirm=True)

    claim = api.claim(demand, shared.volunteers[0])

    assert claim["status"] == "confirmed"
    assert demand_status(api, demand) == "filled"


def test_a_demand_that_is_no_longer_open_does_not_fill_when_its_last_seat_is_confirmed(shared):
    api, owner, (first, second, _) = shared.api, shared.owner, shared.volunteers
    demand = api.demand(owner, "open", needed=2)
    confirmed_claim(api, demand, owner, first)
    late = api.claim(demand, second)
    api.act("demands", demand["id"], "start", owner)

    api.act("claims", late["id"], "confirm", owner)

    now = api.ok(api.get(f"/demands/{demand['id']}", owner))
    assert (now["status"], now["confirmed"]) == ("in_progress", 2)


def test_a_filled_demand_reopens_by_itself_when_a_confirmed_claim_is_cancelled_and_nobody_waits(shared):
    api, owner, (first, second, _) = shared.api, shared.owner, shared.volunteers
    demand = api.demand(owner, "open", needed=2)
    confirmed_claim(api, demand, owner, first)
    claim = confirmed_claim(api, demand, owner, second)
    assert demand_status(api, demand) == "filled"

    api.act("claims", claim["id"], "cancel", second)

    reopened = api.ok(api.get(f"/demands/{demand['id']}", owner))
    assert (reopened["status"], reopened["confirmed"]) == ("open", 1)
    assert reopened["allowed_actions"] == may_fire(LIFECYCLE, "open", relations("owner"))


def test_a_filled_demand_stays_filled_when_a_waitlisted_claim_takes_the_cancelled_seat(shared):
    api, owner, (first, second, _) = shared.api, shared.owner, shared.volunteers
    demand = api.demand(owner, "open", needed=1)
    leaving = confirmed_claim(api, demand, owner, first)
    waiting = api.claim(demand, second)
    api.act("claims", waiting["id"], "waitlist", owner)

    api.act("claims", leaving["id"], "cancel", first)

    assert api.ok(api.get(f"/claims/{waiting['id']}", owner))["status"] == "confirmed"
    now = api.ok(api.get(f"/demands/{demand['id']}", owner))
    assert (now["status"], now["confirmed"], now["waitlisted"]) == ("filled", 1, 0)


def test_a_demand_in_progress_does_not_reopen_when_a_confirmed_claim_is_cancelled(shared):
    api, owner, (first, second, _) = shared.api, shared.owner, shared.volunteers
    demand = api.demand(owner, "open", needed=2)
    confirmed_claim(api, demand, owner, first)
    claim = confirmed_claim(api, demand, owner, second)
    api.act("demands", demand["id"], "start", owner)

    api.act("claims", claim["id"], "cancel", second)

    now = api.ok(api.get(f"/demands/{demand['id']}", owner))
    assert (now["status"], now["confirmed"]) == ("in_progress", 1)


def past_deadline(api: Api, demand: dict) -> None:
    api.clock.set(datetime.fromisoformat(demand["claim_deadline"]) + timedelta(minutes=1))


def test_an_open_demand_expires_when_the_clock_passes_its_claim_deadline_and_the_timers_run(api):
    owner = api.org()
    demand = api.demand(owner, "open")
    waiting = api.claim(demand, api.member())
    api.clock.set(datetime.fromisoformat(demand["claim_deadline"]) - timedelta(minutes=1))
    api.tick()
    assert demand_status(api, demand) == "open"

    past_deadline(api, demand)
    api.tick()

    expired = api.ok(api.get(f"/demands/{demand['id']}", owner))
    assert expired["status"] == "expired"
    assert expired["allowed_actions"] == may_fire(LIFECYCLE, "expired", relations("owner")) == []
    assert api.ok(api.get(f"/claims/{waiting['id']}", owner))["status"] == "declined"
    assert api.tick() == 0, "a second run finds nothing left to expire"
    assert demand_status(api, demand) == "expired"


def test_the_timers_expire_no_demand_that_has_left_open(api):
    owner = api.org()
    left_open = ("filled", "in_progress", "fulfilled", "withdrawn")
    demands = {state: api.demand(owner, state, needed=1) for state in left_open}
    past_deadline(api, demands["filled"])

    api.tick()

    after = {state: demand_status(api, demand) for state, demand in demands.items()}
    assert after == {state: state for state in left_open}


def test_an_open_demand_with_a_confirmed_claim_does_not_expire_at_its_claim_deadline(api):
    owner = api.org()
    demand = api.demand(owner, "open")
    confirmed_claim(api, demand, owner, api.member())
    past_deadline(api, demand)

    api.tick()

    assert demand_status(api, demand) == "open"
    assert api.act("demands", demand["id"], "start", owner)["status"] == "in_progress"


@pytest.mark.parametrize("leaves", ["cancel", "no_show"])
@pytest.mark.parametrize("at_deadline", ["open", "filled"])
def test_an_open_demand_left_with_nobody_confirmed_after_its_claim_deadline_expires_at_the_next_run(
        api, at_deadline, leaves):
    """§3 expire: open, claim_deadline passed, no confirmed claim. At the deadline the demand had
    a confirmed volunteer (so it did not expire then); afterwards the volunteer cancels, or the
    timers mark them no-show after the start, and the demand (reopened if it was filled) is open
    with nobody confirmed, past its deadline: nobody can claim it or start it any more."""
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open", needed=1 if at_deadline == "filled" else 2)
    claim = api.claim(demand, member)
    api.act("claims", claim["id"], "confirm", owner)
    past_deadline(api, demand)
    api.tick()
    assert demand_status(api, demand) == at_deadline
    if leaves == "cancel":
        api.act("claims", claim["id"], "cancel", member)
    else:
        api.clock.set(datetime.fromisoformat(demand["starts_at"]) + timedelta(minutes=16))
        api.tick()
        assert api.ok(api.get(f"/claims/{claim['id']}", owner))["status"] == "no_show"
    assert api.ok(api.get(f"/demands/{demand['id']}", owner))["confirmed"] == 0
    assert demand_status(api, demand) == "open"

    api.clock.advance(minutes=1)
    api.tick()

    assert demand_status(api, demand) == "expired"


def test_the_system_triggers_are_forbidden_to_users_in_every_state(shared):
    api = shared.api
    before = api.event_count()
    refused = {(row.trigger, state, who): fire(api, "demands", shared.stock[state], row.trigger, shared.parties[who], bodies=BODIES)
               for row in SYSTEM_ROWS for state in STATES for who in ("owner", "admin")}
    refused = {case: response.status_code for case, response in refused.items()}
    assert refused == {case: 403 for case in refused}
    assert api.event_count() == before


# -- guards and arguments -------------------------------------------------------------------------

def test_starting_needs_at_least_one_confirmed_claim(shared):
    api, owner = shared.api, shared.owner
    demand = api.demand(owner, "open")
    api.claim(demand, shared.volunteers[0])  # pending only
    demand = api.ok(api.get(f"/demands/{demand['id']}", owner))
    before = api.event_count()

    problem = expect_problem(fire(api, "demands", demand, "start", owner, bodies=BODIES), 409, "guard-failed")

    assert problem["current_status"] == "open"
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, "open", relations("owner"))
    assert_nothing_recorded(api, before)


@pytest.mark.parametrize("left", ["confirmed", "checked_in"])
def test_fulfilling_is_refused_while_a_claim_is_still_confirmed_or_checked_in(shared, left):
    api, owner = shared.api, shared.owner
    demand = api.demand(owner, "in_progress")
    claim = claims_of(api, demand, owner)[0]
    if left == "checked_in":
        api.act("claims", claim["id"], "check_in", owner)
    demand = api.ok(api.get(f"/demands/{demand['id']}", owner))
    before = api.event_count()

    problem = expect_problem(fire(api, "demands", demand, "fulfil", owner, bodies=BODIES), 409, "guard-failed")

    assert problem["current_status"] == "in_progress"
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, "in_progress", relations("owner"))
    assert_nothing_recorded(api, before)


def test_fulfilling_declines_the_claims_still_pending_or_waitlisted(shared):
    api, owner = shared.api, shared.owner
    demand = api.demand(owner, "open", needed=3)
    served, pending, waitlisted = (api.claim(demand, volunteer) for volunteer in shared.volunteers)
    api.act("claims", served["id"], "confirm", owner)
    api.act("claims", waitlisted["id"], "waitlist", owner)
    api.act("demands", demand["id"], "start", owner)
    api.act("claims", served["id"], "check_in", owner)
    api.act("claims", served["id"], "complete", owner)

    assert api.act("demands", demand["id"], "fulfil", owner)["status"] == "fulfilled"

    statuses = {c["id"]: c["status"] for c in claims_of(api, demand, owner)}
    assert statuses == {served["id"]: "completed", pending["id"]: "declined", waitlisted["id"]: "declined"}


def test_withdrawing_cancels_every_live_claim(shared):
    api, owner = shared.api, shared.owner
    demand = api.demand(owner, "open", needed=3)
    confirmed, pending, waitlisted = (api.claim(demand, volunteer) for volunteer in shared.volunteers)
    api.act("claims", confirmed["id"], "confirm", owner)
    api.act("claims", waitlisted["id"], "waitlist", owner)

    api.act("demands", demand["id"], "withdraw", owner)

    statuses = {c["id"]: c["status"] for c in claims_of(api, demand, owner)}
    assert statuses == {c["id"]: "cancelled" for c in (confirmed, pending, waitlisted)}
    assert api.ok(api.get(f"/demands/{demand['id']}", owner))["confirmed"] == 0


MISSING_REASON = [("reject", "pending_review", "admin"), ("withdraw", "open", "owner"),
                  ("withdraw", "draft", "admin")]


@pytest.mark.parametrize("trigger,state,who", MISSING_REASON, ids=[case_id(*case) for case in MISSING_REASON])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}], ids=["no-reason", "empty", "blank"])
def test_rejecting_and_withdrawing_need_a_reason(shared, trigger, state, who, body):
    api, demand = shared.api, shared.stock[state]
    before = api.event_count()

    expect_problem(fire(api, "demands", demand, trigger, shared.parties[who], body, bodies=BODIES), 422,
                   "validation")

    assert_nothing_recorded(api, before)


@pytest.mark.parametrize("rating", [None, 0, 6, 4.5, "5", True], ids=repr)
def test_closing_needs_a_rating_from_1_to_5(shared, rating):
    api, demand = shared.api, shared.stock["fulfilled"]
    before = api.event_count()
    body = {"feedback": "很好"} if rating is None else {"rating": rating}

    expect_problem(fire(api, "demands", demand, "close", shared.owner, body, bodies=BODIES), 422, "validation")

    assert_nothing_recorded(api, before)


def test_closing_accepts_the_lowest_rating_without_feedback(shared):
    api, owner = shared.api, shared.owner
    demand = api.demand(owner, "fulfilled")
    closed = api.act("demands", demand["id"], "close", owner, {"rating": 1})
    assert (closed["status"], closed["rating"], closed["feedback"]) == ("closed", 1, None)
