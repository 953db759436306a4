"""The ServiceRequest lifecycle of DESIGN §3 (企业诉求), driven over HTTP, case by case from
`domain.service_request.LIFECYCLE`, and the request statistics.

For every row of the table (trigger, sources, dest, roles):
- the trigger is accepted from each source state by each human role of the row (the handling
  department, the applicant enterprise, the operator); handler rows also by the providing
  organisation of a shared service (服务共享), which handles the requests filed under it;
- it is refused from every other state with 409 `invalid-transition` (current_status, allowed_actions);
- it is refused with 403 to every party the row does not name, and with 401 to anonymous callers;
- refusals record nothing.
Guards and arguments: reopen (rating ≤ 2, within 7 days of the evaluation), resolve (outcome),
return / not_accept (reason), transfer (a registered department_id other than the current one),
evaluate (rating 1–5). After a transfer (转办) from department A to B, A may no longer act and B may.

Speed: refusals run against a stock of one request per state, built once per backend (`shared`);
each refusal test checks that nothing changed. Tests that change something build their own
requests; tests that run the timers use the per-test `api` of conftest.
"""
import uuid
from datetime import timedelta

import pytest

from domain.service_request import LIFECYCLE
from tests.support import ACTION_BODIES, APPLICANT_STEPS, BACKENDS, REQUEST_PATHS, START, Api, Party, expect_problem, may_fire, module_api

STATES = LIFECYCLE.states
ROWS = {r.trigger: r for r in LIFECYCLE.rows}
HANDLER_ROWS = [r for r in LIFECYCLE.rows if "handler" in r.roles]
assert set(REQUEST_PATHS) == set(STATES), "tests/support.py must know a path to every request state"

PARTIES = ("admin", "handler", "other_dept", "applicant", "other_org", "member", "auditor")
RELATIONS = {"admin": {"admin"}, "handler": {"handler"}, "applicant": {"applicant"}}


def relations(who: str) -> set[str]:
    return RELATIONS.get(who, set())


def case_id(trigger: str, state: str, who: str | None = None) -> str:
    return f"{trigger}-from-{state}" + (f"-by-{who}" if who else "")


# -- the shared system, its parties and its stock of requests ---------------------------------------

class World:
    """A system shared by this module's tests on one backend, its parties and one request per state
    (for refusals only), all under one policy item of the handling department."""

    def __init__(self, api: Api):
        self.api = api
        self.parties: dict[str, Party] = {
            "admin": api.admin, "handler": api.department("市人社局"),
            "other_dept": api.department("市税务局"),
            "applicant": api.org("福州某科技有限公司"), "other_org": api.org(), "member": api.member(),
            "auditor": api.auditor(),
        }
        self.stock = {state: self.request(state) for state in STATES}

    def request(self, state: str, handler: Party | None = None, applicant: Party | None = None,
                **item) -> dict:
        _, found = self.api.service_request_in(state, handler=handler or self.parties["handler"],
                                               applicant=applicant or self.parties["applicant"], **item)
        return found

    def body_for(self, trigger: str) -> dict:
        if trigger == "transfer":
            return {"department_id": self.parties["other_dept"].id, "reason": "属税务部门职责"}
        return ACTION_BODIES.get(trigger, {})


@pytest.fixture(scope="module", params=BACKENDS)
def shared(request, tmp_path_factory) -> World:
    with module_api(request, tmp_path_factory, "request-lifecycle") as api:
        yield World(api)


@pytest.fixture
def world(shared):
    """The shared world, its clock put back to START afterwards (its timers never run)."""
    yield shared
    shared.api.clock.set(START)


def get_request(api: Api, request: dict, by: Party | None = None) -> dict:
    return api.ok(api.get(f"/service-requests/{request['id']}", by or api.admin))


def allowed(api: Api, request: dict, by: Party) -> list[str]:
    """The triggers `by` is offered on the request now."""
    return get_request(api, request, by)["allowed_actions"]


def assert_untouched(api: Api, request: dict, events_before: int) -> None:
    assert api.event_count() == events_before, "a refused action recorded events"
    now = get_request(api, request)
    assert (now["status"], now["version"], now["department_id"]) == (
        request["status"], request["version"], request["department_id"])


def act(api: Api, request: dict, trigger: str, by: Party, body: dict | None = None) -> dict:
    return api.act("service-requests", request["id"], trigger, by, body)


# -- accepted from each source state ------------------------------------------------------------------

ACCEPTED = [(r.trigger, source, who) for r in LIFECYCLE.rows for source in r.sources
            for who in ("handler", "applicant", "admin") if relations(who) & r.roles]


def request_ready_for(world: World, trigger: str, state: str, handler: Party) -> dict:
    """A fresh request in `state` whose guards let `trigger` through."""
    if trigger == "reopen":
        resolved = world.request("resolved", handler=handler)
        return act(world.api, resolved, "evaluate", world.parties["applicant"], {"rating": 1})
    return world.request(state, handler=handler)


@pytest.mark.parametrize("trigger,state,who", ACCEPTED, ids=[case_id(*case) for case in ACCEPTED])
def test_a_request_trigger_is_accepted_from_each_source_state_by_each_role_of_its_row(
        world, trigger, state, who):
    api, row = world.api, ROWS[trigger]
    handler = api.department()
    parties = {**world.parties, "handler": handler}
    request = request_ready_for(world, trigger, state, handler)
    assert request["status"] == state
    before = api.event_count()

    done = act(api, request, trigger, parties[who], world.body_for(trigger))

    dest = row.dest or state
    assert done["status"] == dest
    assert done["version"] > request["version"] and api.event_count() > before
    stored = get_request(api, request)
    assert (stored["status"], stored["version"]) == (dest, done["version"])
    assert allowed(api, request, world.parties["applicant"]) == may_fire(LIFECYCLE, dest, relations("applicant"))
    if trigger == "transfer":
        assert stored["department_id"] == world.parties["other_dept"].id
        assert allowed(api, request, handler) == []
        assert allowed(api, request, world.parties["other_dept"]) == may_fire(LIFECYCLE, dest, relations("handler"))
    else:
        assert stored["department_id"] == handler.id
        assert done["allowed_actions"] == may_fire(LIFECYCLE, dest, relations(who))
        assert allowed(api, request, handler) == may_fire(LIFECYCLE, dest, relations("handler"))
    if trigger in ("return", "not_accept"):
        assert stored["reason"] == ACTION_BODIES[trigger]["reason"]
    if trigger == "resolve":
        assert (stored["outcome"], stored["note"], stored["sla"]) == ("approved", "已兑现", "stopped")
    if trigger == "evaluate":
        assert stored["rating"] == 5
    if trigger == "accept":
        assert stored["sla"] == "on_time" and stored["due_at"] is not None


ORG_HANDLED = [(r.trigger, source) for r in HANDLER_ROWS for source in r.sources]


@pytest.mark.parametrize("trigger,state", ORG_HANDLED,
                         ids=[case_id(*case, "providing-org") for case in ORG_HANDLED])
def test_the_providing_organisation_handles_the_requests_filed_under_its_shared_service(
        world, trigger, state):
    api = world.api
    provider = api.org("鼓楼区律师协会")
    request = world.request(state, handler=provider, category="咨询类")
    handled_by = (request["handler_role"], request["handler_id"], request["department_id"])
    assert handled_by == ("org", provider.id, None)
    assert allowed(api, request, world.parties["applicant"]) == may_fire(LIFECYCLE, state, relations("applicant"))
    assert allowed(api, request, provider) == may_fire(LIFECYCLE, state, relations("handler"))
    before = api.event_count()

    done = act(api, request, trigger, provider, world.body_for(trigger))

    dest = ROWS[trigger].dest or state
    assert done["status"] == dest and api.event_count() > before
    if trigger == "transfer":
        assert (done["handler_role"], done["department_id"]) == ("dept", world.parties["other_dept"].id)
        assert done["allowed_actions"] == []
    else:
        assert done["allowed_actions"] == may_fire(LIFECYCLE, dest, relations("handler"))


# -- refused from every other state -------------------------------------------------------------------

REFUSED = [(r.trigger, state) for r in LIFECYCLE.rows for state in STATES if state not in r.sources]


def first_role(trigger: str) -> str:
    roles = ROWS[trigger].roles
    return next(who for who in ("handler", "applicant", "admin") if who in roles)


@pytest.mark.parametrize("trigger,state", REFUSED, ids=[case_id(*case) for case in REFUSED])
def test_a_request_trigger_outside_its_source_states_is_an_invalid_transition_and_records_nothing(
        shared, trigger, state):
    api, request = shared.api, shared.stock[state]
    who = first_role(trigger)
    before = api.event_count()

    response = api.post(f"/service-requests/{request['id']}/actions/{trigger}", shared.body_for(trigger),
                        shared.parties[who])

    problem = expect_problem(response, 409, "invalid-transition")
    assert problem["current_status"] == state
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, state, relations(who))
    assert trigger not in problem["allowed_actions"]
    assert_untouched(api, request, before)


# -- refused to every role the row does not name -------------------------------------------------------

FORBIDDEN = [(r.trigger, r.sources[0], who) for r in LIFECYCLE.rows for who in PARTIES
             if not relations(who) & r.roles]


@pytest.mark.parametrize("trigger,state,who", FORBIDDEN, ids=[case_id(*case) for case in FORBIDDEN])
def test_a_party_the_request_row_does_not_name_is_forbidden_and_nothing_is_recorded(
        shared, trigger, state, who):
    api, request = shared.api, shared.stock[state]
    before = api.event_count()

    response = api.post(f"/service-requests/{request['id']}/actions/{trigger}", shared.body_for(trigger),
                        shared.parties[who])

    expect_problem(response, 403, "forbidden")
    assert_untouched(api, request, before)


ANONYMOUS = [(r.trigger, r.sources[0]) for r in LIFECYCLE.rows]


@pytest.mark.parametrize("trigger,state", ANONYMOUS, ids=[case_id(*case) for case in ANONYMOUS])
def test_an_anonymous_caller_is_unauthorised_for_every_request_trigger(shared, trigger, state):
    api, request = shared.api, shared.stock[state]
    before = api.event_count()

    response = api.post(f"/service-requests/{request['id']}/actions/{trigger}", shared.body_for(trigger))

    expect_problem(response, 401, "unauthenticated")
    assert_untouched(api, request, before)


READERS = ("admin", "handler", "other_dept", "applicant", "auditor")


def test_every_request_state_lists_for_each_party_exactly_the_triggers_of_the_table(shared):
    api = shared.api
    seen = {(state, who): get_request(api, shared.stock[state], shared.parties[who])["allowed_actions"]
            for state in STATES for who in READERS}
    assert seen == {(state, who): may_fire(LIFECYCLE, state, relations(who)) for state, who in seen}


def test_a_member_or_an_anonymous_caller_cannot_read_a_request(shared):
    api, request = shared.api, shared.stock["accepted"]
    expect_problem(api.get(f"/service-requests/{request['id']}", shared.parties["member"]), 403, "forbidden")
    expect_problem(api.get(f"/service-requests/{request['id']}"), 401, "unauthenticated")


def test_another_enterprise_cannot_read_an_enterprises_request(shared):
    """A request carries an enterprise's own business (subject, detail): DESIGN §4 "403 role or
    ownership"; the route's own refusal says requests are seen by "the enterprise, the departments
    and the operator" — not by every other organisation."""
    api, request = shared.api, shared.stock["accepted"]
    response = api.get(f"/service-requests/{request['id']}", shared.parties["other_org"])
    expect_problem(response, 403, "forbidden")


def test_an_unknown_request_or_an_unknown_request_trigger_is_not_found(shared):
    api, request = shared.api, shared.stock["submitted"]
    before = api.event_count()
    handler = shared.parties["handler"]
    for path in (f"/service-requests/{request['id']}/actions/approve",
                 f"/service-requests/{uuid.uuid4()}/actions/accept"):
        expect_problem(api.post(path, {}, handler), 404, "not-found")
    expect_problem(api.get(f"/service-requests/{uuid.uuid4()}", handler), 404, "not-found")
    assert_untouched(api, request, before)


# -- (create) ---------------------------------------------------------------------------------------------

def test_an_enterprise_files_a_request_under_a_published_item_and_it_goes_to_the_items_department(shared):
    api, handler, applicant = shared.api, shared.parties["handler"], shared.parties["applicant"]
    item = api.item(handler, promised_days=7)
    body = {"subject": "申请稳岗返还", "detail": "参保3年"}
    filed = api.ok(api.post(f"/service-items/{item['id']}/requests", body, applicant), 201)
    assert (filed["status"], filed["item_id"], filed["applicant_id"], filed["department_id"],
            filed["promised_days"], filed["due_at"], filed["sla"], filed["remaining_seconds"]) == (
        "submitted", item["id"], applicant.id, handler.id, 7, None, None, None)
    assert filed["allowed_actions"] == may_fire(LIFECYCLE, "submitted", relations("applicant"))
    assert allowed(api, filed, handler) == may_fire(LIFECYCLE, "submitted", relations("handler"))


@pytest.mark.parametrize("who,status", [("handler", 403), ("other_dept", 403), ("member", 403),
                                        ("auditor", 403), ("admin", 403), ("anonymous", 401)])
def test_only_an_organisation_files_a_request(shared, who, status):
    api = shared.api
    item_id = shared.stock["submitted"]["item_id"]
    before = api.event_count()
    body = {"subject": "申请", "detail": ""}
    response = api.post(f"/service-items/{item_id}/requests", body, shared.parties.get(who))
    assert response.status_code == status, response.text
    assert api.event_count() == before


@pytest.mark.parametrize("body", [{"subject": ""}, {"detail": "无主题"}, {"subject": "x" * 201}],
                         ids=["empty-subject", "no-subject", "long-subject"])
def test_a_request_without_a_proper_subject_is_not_filed(shared, body):
    api = shared.api
    item_id = shared.stock["submitted"]["item_id"]
    before = api.event_count()
    response = api.post(f"/service-items/{item_id}/requests", body, shared.parties["applicant"])
    expect_problem(response, 422, "validation")
    assert api.event_count() == before


# -- guards and arguments ---------------------------------------------------------------------------------

def expect_refused(api: Api, request: dict, trigger: str, by: Party, body: dict, status: int,
                   slug: str) -> dict:
    before = api.event_count()
    response = api.post(f"/service-requests/{request['id']}/actions/{trigger}", body, by)
    problem = expect_problem(response, status, slug)
    assert_untouched(api, request, before)
    return problem


@pytest.mark.parametrize("state", ["accepted", "in_progress"])
@pytest.mark.parametrize("body", [{}, {"outcome": "maybe"}, {"outcome": ""}, {"outcome": "APPROVED"},
                                  {"note": "已办结"}],
                         ids=["none", "unknown", "empty", "upper-case", "note-only"])
def test_resolving_needs_an_outcome_of_approved_denied_or_answered(shared, state, body):
    handler = shared.parties["handler"]
    expect_refused(shared.api, shared.stock[state], "resolve", handler, body, 422, "validation")


@pytest.mark.parametrize("outcome", ["approved", "denied", "answered"])
def test_each_outcome_resolves_a_request(world, outcome):
    request = world.request("in_progress")
    body = {"outcome": outcome, "note": "办结说明"}
    done = act(world.api, request, "resolve", world.parties["handler"], body)
    assert (done["status"], done["outcome"], done["note"]) == ("resolved", outcome, "办结说明")


@pytest.mark.parametrize("trigger", ["return", "not_accept"])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}], ids=["none", "empty", "blank"])
def test_returning_or_not_accepting_a_request_needs_a_reason(shared, trigger, body):
    handler = shared.parties["handler"]
    expect_refused(shared.api, shared.stock["submitted"], trigger, handler, body, 422, "validation")


@pytest.mark.parametrize("case", ["missing", "unregistered", "not-a-department", "the-same-department"])
def test_a_transfer_needs_a_registered_department_other_than_the_current_one(shared, case):
    department_id = {"missing": None, "unregistered": str(uuid.uuid4()),
                     "not-a-department": shared.parties["applicant"].id,
                     "the-same-department": shared.parties["handler"].id}[case]
    body = {"reason": "转办"} | ({"department_id": department_id} if department_id else {})
    handler = shared.parties["handler"]
    expect_refused(shared.api, shared.stock["accepted"], "transfer", handler, body, 422, "validation")


@pytest.mark.parametrize("body", [{}, {"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": 4.5}],
                         ids=["none", "zero", "six", "text", "fraction"])
def test_an_evaluation_needs_a_rating_from_one_to_five(shared, body):
    expect_refused(shared.api, shared.stock["resolved"], "evaluate", shared.parties["applicant"], body, 422,
                   "validation")


def closed_with(world: World, rating: int) -> dict:
    resolved = world.request("resolved")
    body = {"rating": rating, "feedback": "不满意"}
    return act(world.api, resolved, "evaluate", world.parties["applicant"], body)


@pytest.mark.parametrize("rating", [3, 4, 5])
def test_a_request_rated_above_two_cannot_be_reopened(world, rating):
    request = closed_with(world, rating)
    applicant = world.parties["applicant"]
    body = {"reason": "问题未解决"}
    problem = expect_refused(world.api, request, "reopen", applicant, body, 409, "guard-failed")
    assert problem["current_status"] == "closed"
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, "closed", relations("applicant"))


@pytest.mark.parametrize("rating,after,reopens", [
    (1, timedelta(0), True),
    (2, timedelta(days=3), True),
    (2, timedelta(days=7), True),
    (2, timedelta(days=7, seconds=1), False),
    (1, timedelta(days=30), False),
], ids=["rated-1-at-once", "rated-2-after-3-days", "rated-2-after-exactly-7-days",
        "rated-2-a-second-too-late", "rated-1-a-month-later"])
def test_a_poorly_rated_request_may_be_reopened_within_seven_days_of_its_evaluation(
        world, rating, after, reopens):
    api, applicant = world.api, world.parties["applicant"]
    request = closed_with(world, rating)
    api.clock.set(START + after)
    if reopens:
        done = act(api, request, "reopen", applicant, {"reason": "问题未解决"})
        assert (done["status"], done["sla"], done["reason"]) == ("in_progress", "on_time", "问题未解决")
        assert done["allowed_actions"] == may_fire(LIFECYCLE, "in_progress", relations("applicant"))
        assert allowed(api, request, world.parties["handler"]) == may_fire(LIFECYCLE, "in_progress", relations("handler"))
    else:
        problem = expect_refused(api, request, "reopen", applicant, {}, 409, "guard-failed")
        assert problem["current_status"] == "closed"


def test_a_reopened_request_can_be_resolved_and_evaluated_again(world):
    api, handler, applicant = world.api, world.parties["handler"], world.parties["applicant"]
    request = closed_with(world, 2)
    act(api, request, "reopen", applicant, {"reason": "问题未解决"})
    act(api, request, "resolve", handler, {"outcome": "answered", "note": "再次答复"})
    closed = act(api, request, "evaluate", applicant, {"rating": 5})
    assert (closed["status"], closed["rating"], closed["outcome"]) == ("closed", 5, "answered")
    expect_refused(api, closed, "reopen", applicant, {}, 409, "guard-failed")


def test_a_returned_request_is_resubmitted_with_amended_detail(world):
    api = world.api
    request = world.request("returned")
    done = act(api, request, "resubmit", world.parties["applicant"], {"detail": "已补充参保证明"})
    assert (done["status"], done["detail"]) == ("submitted", "已补充参保证明")
    accepted = act(api, request, "accept", world.parties["handler"])
    assert accepted["status"] == "accepted"


def test_the_applicant_sees_what_it_is_asked_to_supply_until_it_responds(world):
    api, applicant = world.api, world.parties["applicant"]
    request = world.request("in_progress")
    asked = act(api, request, "await_applicant", world.parties["handler"], {"reason": "请补充近三个月社保缴费凭证"})
    assert (asked["status"], asked["reason"]) == ("awaiting_applicant", "请补充近三个月社保缴费凭证")
    assert get_request(api, request, applicant)["reason"] == "请补充近三个月社保缴费凭证"
    answered = act(api, request, "respond", applicant)
    assert (answered["status"], answered["reason"]) == ("in_progress", None)


# -- transfer (转办): the old department loses the request, the new one takes it up -------------------------

AFTER_TRANSFER = [(r.trigger, source) for r in HANDLER_ROWS for source in r.sources]


@pytest.mark.parametrize("by", ["old-department", "admin"])
@pytest.mark.parametrize("trigger,state", AFTER_TRANSFER, ids=[case_id(*case) for case in AFTER_TRANSFER])
def test_after_a_transfer_the_old_department_is_forbidden_every_handler_action_and_the_new_one_may_act(
        world, trigger, state, by):
    api, applicant = world.api, world.parties["applicant"]
    old, new = api.department("市人社局"), api.department("市税务局")
    request = world.request(state, handler=old)
    mover = old if by == "old-department" else api.admin
    moved = act(api, request, "transfer", mover, {"department_id": new.id})
    assert (moved["status"], moved["department_id"]) == (state, new.id)
    assert allowed(api, request, old) == []
    assert allowed(api, request, new) == may_fire(LIFECYCLE, state, relations("handler"))

    for handler_trigger in (r.trigger for r in HANDLER_ROWS):
        body = {"department_id": old.id} if handler_trigger == "transfer" else world.body_for(handler_trigger)
        expect_refused(api, moved, handler_trigger, old, body, 403, "forbidden")

    body = {"department_id": old.id} if trigger == "transfer" else world.body_for(trigger)
    done = act(api, request, trigger, new, body)
    assert done["status"] == (ROWS[trigger].dest or state)
    assert get_request(api, request, applicant)["applicant_id"] == applicant.id


def test_a_transfer_moves_the_request_between_the_departments_queues(world):
    api = world.api
    old, new = api.department(), api.department()
    request = world.request("in_progress", handler=old)

    def queued(dept: Party) -> list[str]:
        return [r["id"] for r in api.ok(api.get(f"/departments/{dept.id}/queue", dept))["items"]]

    assert (queued(old), queued(new)) == ([request["id"]], [])
    act(api, request, "transfer", old, {"department_id": new.id, "reason": "职责调整"})
    assert (queued(old), queued(new)) == ([], [request["id"]])
    expect_problem(api.get(f"/departments/{new.id}/queue", old), 403, "forbidden")
    act(api, request, "transfer", new, {"department_id": old.id})
    assert (queued(old), queued(new)) == ([request["id"]], [])
    done = act(api, request, "resolve", old, {"outcome": "answered"})
    assert done["status"] == "resolved"


def test_a_department_queue_is_for_its_officers_the_operator_and_auditors(shared):
    api, dept = shared.api, shared.parties["handler"]
    path = f"/departments/{dept.id}/queue"
    for party in (dept, api.admin, shared.parties["auditor"]):
        assert api.ok(api.get(path, party))["department_id"] == dept.id
    for who in ("other_dept", "applicant", "other_org", "member"):
        expect_problem(api.get(path, shared.parties[who]), 403, "forbidden")
    expect_problem(api.get(path), 401, "unauthenticated")
    expect_problem(api.get(f"/departments/{uuid.uuid4()}/queue", api.admin), 404, "not-found")


def test_a_request_handled_by_an_organisation_is_in_no_department_queue_until_transferred(world):
    api = world.api
    provider, target = api.org("鼓楼区律师协会"), api.department()
    request = world.request("accepted", handler=provider, category="咨询类")
    assert api.ok(api.get(f"/departments/{target.id}/queue", target))["total"] == 0
    act(api, request, "transfer", provider, {"department_id": target.id})
    queue = api.ok(api.get(f"/departments/{target.id}/queue", target))
    assert [r["id"] for r in queue["items"]] == [request["id"]]
    expect_refused(api, get_request(api, request), "start", provider, {}, 403, "forbidden")


# -- stats --------------------------------------------------------------------------------------------------

def test_stats_count_requests_by_state_and_department_and_the_share_resolved_on_time(api):
    labour, tax, lawyers, applicant = api.department(), api.department(), api.org(), api.org()
    item = api.item(labour, promised_days=1)
    shared_service = api.item(lawyers, promised_days=1, category="咨询类")

    def file(under: dict) -> dict:
        body = {"subject": "申请", "detail": ""}
        return api.ok(api.post(f"/service-items/{under['id']}/requests", body, applicant), 201)

    def go(request: dict, *steps: str, by: Party = labour) -> dict:
        for step in steps:
            actor = applicant if step in APPLICANT_STEPS else by
            request = api.act("service-requests", request["id"], step, actor)
        return request

    on_time = go(file(item), "accept", "start", "resolve")
    go(file(item))
    go(file(item), "withdraw")
    moved = go(file(item), "accept")
    api.act("service-requests", moved["id"], "transfer", labour, {"department_id": tax.id})
    go(moved, "start", "resolve", "evaluate", by=tax)
    go(file(shared_service), "accept", by=lawyers)
    late = go(file(item), "accept", "start")
    api.clock.set(api.clock.now() + timedelta(days=3))
    api.tick()
    assert get_request(api, late)["sla"] == "breached"
    go(late, "resolve")
    assert on_time["sla"] == "stopped"

    stats = api.ok(api.get("/stats"))["service_requests"]
    assert stats["total"] == 6
    assert stats["by_state"] == {"resolved": 2, "submitted": 1, "withdrawn": 1, "closed": 1, "accepted": 1}
    assert stats["by_department"] == {labour.id: {"total": 4, "resolved": 2, "on_time": 1},
                                      tax.id: {"total": 1, "resolved": 1, "on_time": 1}}
    assert stats["on_time_rate"] == pytest.approx(2 / 3, abs=1e-4)


def test_the_on_time_rate_is_empty_before_any_request_is_resolved(api):
    assert api.ok(api.get("/stats"))["service_requests"] == {"total": 0, "by_state": {}, "by_department": {},
                                                             "on_time_rate": None}
    api.service_request_in("accepted")
    stats = api.ok(api.get("/stats"))["service_requests"]
    assert (stats["total"], stats["by_state"], stats["on_time_rate"]) == (1, {"accepted": 1}, None)


def test_a_request_resolved_after_its_promised_time_is_late_even_if_no_timer_fired_before(api):
    """The on-time share is "resolved within the promised time": a resolution after the due time
    is late whether or not the timer loop happened to run in between (it runs every 30 s in a
    server, and not at all while the timers are down)."""
    dept = api.department()
    _, request = api.service_request_in("in_progress", handler=dept, promised_days=1)
    api.clock.set(api.clock.now() + timedelta(days=3))
    late = api.act("service-requests", request["id"], "resolve", dept)
    assert late["status"] == "resolved"

    stats = api.ok(api.get("/stats"))["service_requests"]
    assert stats["by_department"][dept.id] == {"total": 1, "resolved": 1, "on_time": 0}
    assert stats["on_time_rate"] == 0
