"""The ServiceItem lifecycle of DESIGN §3, driven over HTTP, case by case from
`domain.service_item.LIFECYCLE`; staged revisions and content versions; the catalogue; stats.

For every row of the table (trigger, sources, dest, roles), on items provided by a department
(policy items, 惠企政策) and by an organisation (shared services, 服务共享):
- the trigger is accepted from each source state by each human role of the row;
- it is refused from every other state with 409 `invalid-transition` (current_status, allowed_actions);
- it is refused with 403 to every party the row does not name (404 to a party who cannot see a
  draft, in-review or discarded item at all: like demands, see docs/decisions.md), and with 401
  to anonymous callers;
- refusals record nothing.
The system retires a published or suspended item when the clock reaches its valid_to.

Speed: refusals run against a stock of one item per state and provider kind, built once per
backend (`shared`): a refusal changes nothing, and each refusal test checks that. Tests that
change something build their own items; tests that move the clock or run the timers use the
per-test `api` of conftest.
"""
import uuid
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from domain.actors import SYSTEM, Actor, Role
from domain.errors import GuardFailedError
from domain.service_item import LIFECYCLE, ServiceItem
from tests.support import ACTION_BODIES, BACKENDS, ITEM_PATHS, Api, Party, expect_problem, may_fire, module_api

STATES = LIFECYCLE.states
ROWS = {r.trigger: r for r in LIFECYCLE.rows}
HUMAN_ROWS = [r for r in LIFECYCLE.rows if r.roles - {"system"}]
assert set(ITEM_PATHS) == set(STATES), "tests/support.py must know a path to every item state"

# who provides the item: a department (policy item) or an organisation (shared service)
KINDS = ("dept", "org")
PARTIES = ("admin", "dept", "other_dept", "org", "other_org", "member", "auditor")
PUBLIC_STATES = ("published", "suspended", "retired")
REVISION = {"title": "稳岗返还（2027版）"}


def relations(kind: str, who: str) -> set[str]:
    """The words of the table's "who" column that describe `who` on an item provided by `kind`."""
    if who == "admin":
        return {"admin"}
    return {"provider"} if who == kind else set()


def sees(kind: str, who: str, state: str) -> bool:
    return state in PUBLIC_STATES or who in ("admin", "auditor", kind)


def body_for(trigger: str) -> dict:
    return REVISION if trigger == "revise" else ACTION_BODIES.get(trigger, {})


def refusal_source(row) -> str:
    """A source of the row that everyone can see, when there is one, so a refusal is about the role."""
    return next((s for s in row.sources if s in PUBLIC_STATES), row.sources[0])


def case_id(kind: str, trigger: str, state: str, who: str | None = None) -> str:
    return f"{kind}-item-{trigger}-from-{state}" + (f"-by-{who}" if who else "")


# -- the shared system, its parties and its stock of items ----------------------------------------

class World:
    """A system shared by this module's tests on one backend, its parties and one item per state
    and provider kind (for refusals only)."""

    def __init__(self, api: Api):
        self.api = api
        self.parties: dict[str, Party] = {
            "admin": api.admin, "dept": api.department(), "other_dept": api.department(), "org": api.org(),
            "other_org": api.org(), "member": api.member(), "auditor": api.auditor(),
        }
        self.stock = {(kind, state): api.item(self.parties[kind], state)
                      for kind in KINDS for state in STATES}


@pytest.fixture(scope="module", params=BACKENDS)
def shared(request, tmp_path_factory) -> World:
    with module_api(request, tmp_path_factory, "item-lifecycle") as api:
        yield World(api)


def get_item(api: Api, item: dict, by: Party | None = None) -> dict:
    return api.ok(api.get(f"/service-items/{item['id']}", by or api.admin))


def assert_untouched(api: Api, item: dict, events_before: int) -> None:
    assert api.event_count() == events_before, "a refused action recorded events"
    now = get_item(api, item)
    assert (now["status"], now["version"], now["title"]) == (item["status"], item["version"], item["title"])


def item_ready_for(api: Api, provider: Party, trigger: str, state: str) -> dict:
    """A fresh item in `state` whose guards let `trigger` through."""
    item = api.item(provider, state)
    if trigger == "publish_revision":
        api.act("service-items", item["id"], "revise", provider, REVISION)
    return get_item(api, item)


# -- accepted from each source state ----------------------------------------------------------------

ACCEPTED = [(kind, r.trigger, source, who) for kind in KINDS for r in HUMAN_ROWS for source in r.sources
            for who in (kind, "admin") if relations(kind, who) & r.roles]


@pytest.mark.parametrize("kind,trigger,state,who", ACCEPTED, ids=[case_id(*case) for case in ACCEPTED])
def test_an_item_trigger_is_accepted_from_each_source_state_by_each_role_of_its_row(
        shared, kind, trigger, state, who):
    api, row = shared.api, ROWS[trigger]
    item = item_ready_for(api, shared.parties[kind], trigger, state)
    before = api.event_count()

    done = api.act("service-items", item["id"], trigger, shared.parties[who], body_for(trigger))

    dest = row.dest or state
    assert done["status"] == dest
    assert done["version"] > item["version"] and api.event_count() > before
    assert done["allowed_actions"] == may_fire(LIFECYCLE, dest, relations(kind, who))
    stored = get_item(api, item)
    assert (stored["status"], stored["version"]) == (dest, done["version"])
    assert get_item(api, item, shared.parties[kind])["allowed_actions"] == may_fire(LIFECYCLE, dest, relations(kind, kind))
    if trigger in ("return", "suspend"):
        assert stored["reason"] == ACTION_BODIES[trigger]["reason"]
    if trigger == "revise":
        served = (stored["title"], stored["content_version"], stored["has_staged_revision"])
        assert served == ("稳岗返还", 1, True)
        assert stored["staged_revision"]["title"] == REVISION["title"]
    if trigger == "publish_revision":
        served = (stored["title"], stored["content_version"], stored["has_staged_revision"])
        assert served == (REVISION["title"], 2, False)


# -- refused from every other state -----------------------------------------------------------------

REFUSED = [(kind, r.trigger, state) for kind in KINDS for r in HUMAN_ROWS for state in STATES
           if state not in r.sources]


@pytest.mark.parametrize("kind,trigger,state", REFUSED, ids=[case_id(*case) for case in REFUSED])
def test_an_item_trigger_outside_its_source_states_is_an_invalid_transition_and_records_nothing(
        shared, kind, trigger, state):
    api, item = shared.api, shared.stock[(kind, state)]
    who = kind if "provider" in ROWS[trigger].roles else "admin"
    before = api.event_count()

    party = shared.parties[who]
    response = api.post(f"/service-items/{item['id']}/actions/{trigger}", body_for(trigger), party)

    problem = expect_problem(response, 409, "invalid-transition")
    assert problem["current_status"] == state
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, state, relations(kind, who))
    assert trigger not in problem["allowed_actions"]
    assert_untouched(api, item, before)


# -- refused to every role the row does not name ------------------------------------------------------

NOT_ALLOWED = [(kind, r.trigger, refusal_source(r), who) for kind in KINDS for r in LIFECYCLE.rows
               for who in PARTIES if not relations(kind, who) & r.roles]
FORBIDDEN = [case for case in NOT_ALLOWED if sees(case[0], case[3], case[2])]
HIDDEN = [case for case in NOT_ALLOWED if not sees(case[0], case[3], case[2])]


@pytest.mark.parametrize("kind,trigger,state,who", FORBIDDEN, ids=[case_id(*case) for case in FORBIDDEN])
def test_a_party_the_item_row_does_not_name_is_forbidden_and_nothing_is_recorded(
        shared, kind, trigger, state, who):
    api, item = shared.api, shared.stock[(kind, state)]
    before = api.event_count()

    party = shared.parties[who]
    response = api.post(f"/service-items/{item['id']}/actions/{trigger}", body_for(trigger), party)

    expect_problem(response, 403, "forbidden")
    assert_untouched(api, item, before)


@pytest.mark.parametrize("kind,trigger,state,who", HIDDEN, ids=[case_id(*case) for case in HIDDEN])
def test_a_party_who_cannot_see_an_unpublished_item_cannot_act_on_it_either(
        shared, kind, trigger, state, who):
    api, item = shared.api, shared.stock[(kind, state)]
    party = shared.parties[who]
    expect_problem(api.get(f"/service-items/{item['id']}", party), 404, "not-found")
    before = api.event_count()

    response = api.post(f"/service-items/{item['id']}/actions/{trigger}", body_for(trigger), party)

    expect_problem(response, 404, "not-found")
    assert_untouched(api, item, before)


ANONYMOUS = [("dept", r.trigger, refusal_source(r)) for r in LIFECYCLE.rows]


@pytest.mark.parametrize("kind,trigger,state", ANONYMOUS, ids=[case_id(*case) for case in ANONYMOUS])
def test_an_anonymous_caller_is_unauthorised_for_every_item_trigger(shared, kind, trigger, state):
    api, item = shared.api, shared.stock[(kind, state)]
    before = api.event_count()

    response = api.post(f"/service-items/{item['id']}/actions/{trigger}", body_for(trigger))

    expect_problem(response, 401, "unauthenticated")
    assert_untouched(api, item, before)


def test_every_item_state_lists_for_each_party_exactly_the_triggers_of_the_table(shared):
    api = shared.api
    seen = {(kind, state, who): get_item(api, shared.stock[(kind, state)], shared.parties[who])[
        "allowed_actions"] for kind in KINDS for state in STATES for who in PARTIES if sees(kind, who, state)}
    assert seen == {(kind, state, who): may_fire(LIFECYCLE, state, relations(kind, who)) for kind, state, who in seen}
    anonymous = {state: api.ok(api.get(f"/service-items/{shared.stock[('dept', state)]['id']}"))[
        "allowed_actions"] for state in PUBLIC_STATES}
    assert anonymous == {state: [] for state in PUBLIC_STATES}


def test_an_unknown_item_or_an_unknown_item_trigger_is_not_found(shared):
    api, item = shared.api, shared.stock[("dept", "published")]
    before = api.event_count()
    expect_problem(api.post(f"/service-items/{item['id']}/actions/approve", {}, api.admin), 404, "not-found")
    unknown = api.post(f"/service-items/{uuid.uuid4()}/actions/suspend", {}, api.admin)
    expect_problem(unknown, 404, "not-found")
    expect_problem(api.get(f"/service-items/{uuid.uuid4()}"), 404, "not-found")
    assert_untouched(api, item, before)


# -- guards and arguments -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_publishing_a_revision_when_none_is_staged_is_a_failed_guard_and_records_nothing(shared, kind):
    api, item = shared.api, shared.stock[(kind, "published")]
    assert item["has_staged_revision"] is False
    before = api.event_count()

    response = api.post(f"/service-items/{item['id']}/actions/publish_revision", {}, api.admin)

    problem = expect_problem(response, 409, "guard-failed")
    assert problem["current_status"] == "published"
    assert problem["allowed_actions"] == may_fire(LIFECYCLE, "published", relations(kind, "admin"))
    assert_untouched(api, item, before)


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}], ids=["no-reason", "empty", "blank"])
def test_returning_an_item_to_its_provider_needs_a_reason(shared, body):
    api, item = shared.api, shared.stock[("dept", "in_review")]
    before = api.event_count()
    response = api.post(f"/service-items/{item['id']}/actions/return", body, api.admin)
    expect_problem(response, 422, "validation")
    assert_untouched(api, item, before)


@pytest.mark.parametrize("body", [{"category": "不存在的类别"}, {"mode": "随便"}, {"promised_days": 0},
                                  {"promised_days": "5"}, {"title": ""}],
                         ids=["bad-category", "bad-mode", "zero-days", "days-as-text", "empty-title"])
def test_a_revision_that_breaks_the_content_rules_is_refused_and_stages_nothing(shared, body):
    api, item = shared.api, shared.stock[("dept", "published")]
    before = api.event_count()
    response = api.post(f"/service-items/{item['id']}/actions/revise", body, shared.parties["dept"])
    expect_problem(response, 422, "validation")
    assert_untouched(api, item, before)
    assert get_item(api, item)["has_staged_revision"] is False


BAD_ITEMS = {
    "bad-category": {"category": "补贴类"},
    "zero-days": {"promised_days": 0},
    "bad-mode": {"mode": "自动"},
    "valid-to-before-from": {"valid_from": "2026-06-02T00:00:00+08:00",
                             "valid_to": "2026-06-01T00:00:00+08:00"},
    "unknown-department": {"department_id": "no-such-department"},
}


@pytest.mark.parametrize("body", BAD_ITEMS.values(), ids=BAD_ITEMS.keys())
def test_an_item_that_breaks_the_content_rules_is_not_drafted(shared, body):
    api = shared.api
    before = api.event_count()
    response = api.post("/service-items", api.item_body(**body), shared.parties["dept"])
    expect_problem(response, 422, "validation")
    assert api.event_count() == before


@pytest.mark.parametrize("who,status", [("member", 403), ("auditor", 403), ("admin", 403),
                                        ("anonymous", 401)])
def test_only_departments_and_organisations_draft_items(shared, who, status):
    api = shared.api
    party = shared.parties.get(who)
    before = api.event_count()
    response = api.post("/service-items", api.item_body(), party)
    assert response.status_code == status, response.text
    assert api.event_count() == before


def test_a_department_drafts_only_under_its_own_department(shared):
    api = shared.api
    before = api.event_count()
    body = api.item_body(department_id=shared.parties["other_dept"].id)
    expect_problem(api.post("/service-items", body, shared.parties["dept"]), 422, "validation")
    assert api.event_count() == before
    own = api.ok(api.post("/service-items", api.item_body(), shared.parties["dept"]), 201)
    assert (own["department_id"], own["provider_role"], own["status"]) == (
        shared.parties["dept"].id, "dept", "draft")
    org_body = api.item_body(category="咨询类")
    shared_service = api.ok(api.post("/service-items", org_body, shared.parties["org"]), 201)
    assert (shared_service["department_id"], shared_service["provider_role"]) == (None, "org")


def test_the_system_may_retire_an_item_only_once_its_valid_to_has_passed():
    """The domain's guard on the system row, below the API (the system never calls over HTTP)."""
    content = {"title": "稳岗返还", "category": "奖补类", "mode": "免申即享", "basis": "", "eligibility": "",
               "materials": "", "promised_days": 5, "valid_from": datetime(2026, 6, 1, tzinfo=UTC),
               "valid_to": datetime(2026, 7, 1, tzinfo=UTC), "co_department_ids": []}
    dept = Actor("d1", Role.DEPT)
    item = ServiceItem.draft(uuid.uuid4(), dept, content)
    item.submit(dept)
    item.publish(Actor("admin", Role.ADMIN))
    with pytest.raises(GuardFailedError):
        item.retire(SYSTEM, datetime(2026, 6, 30, 23, 59, tzinfo=UTC))
    assert item.status == "published"
    item.retire(SYSTEM, datetime(2026, 7, 1, tzinfo=UTC))
    assert item.status == "retired"


# -- retirement by the system at valid_to ---------------------------------------------------------------

def stored_events(api: Api, item: dict) -> list:
    return list(api.system.services.events.get(UUID(item["id"])))


@pytest.mark.parametrize("state", ["published", "suspended"])
def test_the_system_retires_an_item_when_the_clock_reaches_its_valid_to(api, state):
    dept = api.department()
    valid_to = api.clock.now() + timedelta(days=30)
    item = api.item(dept, state, valid_to=valid_to.isoformat())
    api.clock.set(valid_to - timedelta(seconds=1))
    api.tick()
    assert get_item(api, item)["status"] == state

    api.clock.set(valid_to)
    assert api.tick() == 1

    retired = get_item(api, item, dept)
    assert retired["status"] == "retired"
    assert retired["allowed_actions"] == may_fire(LIFECYCLE, "retired", relations("dept", "dept")) == []
    last = stored_events(api, item)[-1]
    assert isinstance(last, ServiceItem.Retired)
    assert (last.meta["actor_id"], last.meta["actor_role"]) == ("system", "system")
    assert api.tick() == 0, "a second run finds nothing left to retire"
    assert get_item(api, item)["version"] == retired["version"]


@pytest.mark.parametrize("state", ["draft", "in_review", "discarded", "retired"])
def test_the_timers_do_not_retire_an_item_that_is_not_published_or_suspended(api, state):
    dept = api.department()
    valid_to = api.clock.now() + timedelta(days=30)
    item = get_item(api, api.item(dept, state, valid_to=valid_to.isoformat()))
    api.clock.set(valid_to + timedelta(days=1))

    api.tick()

    after = get_item(api, item)
    assert (after["status"], after["version"]) == (state, item["version"])


def test_a_published_revision_moves_the_retirement_to_its_new_valid_to_and_a_staged_one_does_not(api):
    dept = api.department()
    start = api.clock.now()
    first, second = start + timedelta(days=30), start + timedelta(days=60)
    item = api.item(dept, valid_to=first.isoformat())
    later = (start + timedelta(days=90)).isoformat()
    api.act("service-items", item["id"], "revise", dept, {"valid_to": later})
    api.act("service-items", item["id"], "revise", dept, {"valid_to": second.isoformat()})
    # staged only: the live content (and its valid_to) is what the timers honour
    assert get_item(api, item)["valid_to"] == first.isoformat()

    api.act("service-items", item["id"], "publish_revision", api.admin)
    api.clock.set(first + timedelta(hours=1))
    api.tick()
    assert get_item(api, item)["status"] == "published"

    api.clock.set(second)
    api.tick()
    assert get_item(api, item)["status"] == "retired"


def test_a_staged_revision_does_not_postpone_the_retirement_of_the_live_content(api):
    dept = api.department()
    start = api.clock.now()
    item = api.item(dept, valid_to=(start + timedelta(days=30)).isoformat())
    later = (start + timedelta(days=90)).isoformat()
    api.act("service-items", item["id"], "revise", dept, {"valid_to": later})

    api.clock.set(start + timedelta(days=30))
    api.tick()

    assert get_item(api, item)["status"] == "retired"


# -- revisions: what is served does not change until publish_revision --------------------------------

def test_revisions_never_change_what_is_served_until_published_and_every_version_stays_retrievable(api):
    dept, org, other = api.department(), api.org(), api.department()
    item = api.item(dept)
    path = f"/service-items/{item['id']}"
    v1 = {k: item[k] for k in ("title", "eligibility", "materials", "promised_days", "mode", "category")}
    before_revision = api.ok(api.get(path))

    api.act("service-items", item["id"], "revise", dept, {"title": "稳岗返还（2027版）"})
    api.act("service-items", item["id"], "revise", dept,
            {"eligibility": "依法参保且未裁员的企业", "promised_days": 3})

    for party in (None, org, other, dept, api.admin):
        served = api.ok(api.get(path, party))
        assert {k: served[k] for k in v1} == v1, party
        assert (served["content_version"], served["has_staged_revision"]) == (1, True)
    anonymous = api.ok(api.get(path))
    bookkeeping = ("version", "updated_at", "has_staged_revision")
    assert {k: v for k, v in anonymous.items() if k not in bookkeeping} == {
        k: v for k, v in before_revision.items() if k not in bookkeeping}
    listed = {i["id"]: i for i in api.ok(api.get("/service-items", department=dept.id))["items"]}
    assert (listed[item["id"]]["title"], listed[item["id"]]["content_version"]) == ("稳岗返还", 1)
    assert api.ok(api.get("/service-items", q="2027版"))["total"] == 0
    assert api.ok(api.get(f"{path}/versions/1"))["title"] == "稳岗返还"
    assert api.get(f"{path}/versions/2").status_code == 404

    api.act("service-items", item["id"], "publish_revision", api.admin)

    v2 = api.ok(api.get(path))
    assert (v2["title"], v2["eligibility"], v2["promised_days"], v2["content_version"],
            v2["has_staged_revision"]) == ("稳岗返还（2027版）", "依法参保且未裁员的企业", 3, 2, False)
    assert v2["materials"] == v1["materials"], "fields the revisions did not touch are carried over"
    listed = api.ok(api.get("/service-items", q="2027版"))["items"]
    assert [(i["id"], i["title"], i["content_version"]) for i in listed] == [
        (item["id"], "稳岗返还（2027版）", 2)]

    api.act("service-items", item["id"], "revise", dept, {"materials": "营业执照复印件"})
    assert api.ok(api.get(path))["materials"] == v1["materials"]
    api.act("service-items", item["id"], "publish_revision", api.admin)

    versions = [api.ok(api.get(f"{path}/versions/{n}")) for n in (1, 2, 3)]
    assert [(v["content_version"], v["title"], v["eligibility"], v["promised_days"], v["materials"])
            for v in versions] == [
        (1, "稳岗返还", v1["eligibility"], 5, v1["materials"]),
        (2, "稳岗返还（2027版）", "依法参保且未裁员的企业", 3, v1["materials"]),
        (3, "稳岗返还（2027版）", "依法参保且未裁员的企业", 3, "营业执照复印件"),
    ]
    assert all(v["id"] == item["id"] for v in versions)
    for n in (0, 4):
        expect_problem(api.get(f"{path}/versions/{n}"), 404, "not-found")
    assert api.ok(api.get(path))["content_version"] == 3


def test_a_staged_revision_is_shown_only_to_the_provider_and_the_operator(api):
    dept, other_dept, org = api.department(), api.department(), api.org()
    member, auditor = api.member(), api.auditor()
    item = api.item(dept)
    api.act("service-items", item["id"], "revise", dept, {"title": "稳岗返还（修订稿）"})

    for party in (dept, api.admin):
        seen = get_item(api, item, party)
        assert seen["staged_revision"]["title"] == "稳岗返还（修订稿）"
        assert seen["title"] == "稳岗返还"
    for party in (None, other_dept, org, member, auditor):
        seen = api.ok(api.get(f"/service-items/{item['id']}", party))
        assert "staged_revision" not in seen, party
        assert seen["title"] == "稳岗返还"
        assert "修订稿" not in str(seen)
    listed = api.ok(api.get("/service-items", department=dept.id))["items"]
    assert "修订稿" not in str(listed)


def test_an_organisations_shared_service_is_revised_by_that_organisation_only(api):
    org, other_org = api.org(), api.org()
    item = api.item(org, category="咨询类", title="法律咨询服务")
    expect_problem(api.post(f"/service-items/{item['id']}/actions/revise", {"title": "x"}, other_org), 403,
                   "forbidden")
    api.act("service-items", item["id"], "revise", org, {"title": "法律咨询服务（周末加开）"})
    assert get_item(api, item, org)["staged_revision"]["title"] == "法律咨询服务（周末加开）"
    assert "staged_revision" not in get_item(api, item, other_org)
    api.act("service-items", item["id"], "publish_revision", api.admin)
    assert get_item(api, item, other_org)["title"] == "法律咨询服务（周末加开）"


def test_a_published_revision_of_promised_days_applies_to_requests_filed_after_it_only(api):
    dept, applicant = api.department(), api.org()
    item = api.item(dept, promised_days=5)

    def file() -> dict:
        body = {"subject": "申请", "detail": ""}
        return api.ok(api.post(f"/service-items/{item['id']}/requests", body, applicant), 201)

    before = file()
    api.act("service-items", item["id"], "revise", dept, {"promised_days": 2})
    while_staged = file()
    api.act("service-items", item["id"], "publish_revision", api.admin)
    after = file()
    assert [r["promised_days"] for r in (before, while_staged, after)] == [5, 5, 2]


# -- the catalogue -----------------------------------------------------------------------------------

def test_the_catalogue_filters_by_department_category_mode_status_and_text(api):
    labour, tax, org = api.department("市人社局"), api.department("市税务局"), api.org()
    subsidy = api.item(labour, title="稳岗返还", category="奖补类", mode="免申即享")
    training = api.item(labour, title="职业技能培训补贴", category="奖补类", mode="依申请",
                        eligibility="组织职工参加技能培训的企业")
    rent = api.item(tax, title="房租减免", category="减免类", mode="快申快享")
    legal = api.item(org, title="法律咨询服务", category="咨询类", mode="依申请")
    paused = api.item(tax, "suspended", title="社保缓缴", category="减免类", mode="免申即享")
    draft = api.item(labour, "draft", title="人才公寓", category="权益类", mode="依申请")
    retired = api.item(org, "retired", title="代账服务", category="咨询类", mode="依申请")

    def ids(by: Party | None = None, **filters) -> set[str]:
        body = api.ok(api.get("/service-items", by, **filters))
        assert body["total"] == len(body["items"])
        return {i["id"] for i in body["items"]}

    def of(*items) -> set[str]:
        return {i["id"] for i in items}

    assert ids() == of(subsidy, training, rent, legal)
    assert ids(department=labour.id) == of(subsidy, training)
    assert ids(department=tax.id) == of(rent)
    assert ids(category="奖补类") == of(subsidy, training)
    assert ids(mode="依申请") == of(training, legal)
    assert ids(category="奖补类", mode="依申请", department=labour.id) == of(training)
    assert ids(q="房租") == of(rent)
    assert ids(q="技能培训的企业") == of(training), "the text search covers the content, not only the title"
    assert ids(status="suspended") == of(paused)
    assert ids(status="retired") == of(retired)
    assert ids(status="draft") == set(), "nobody anonymous sees drafts"
    assert ids(tax, status="draft") == set(), "another department does not see this one's drafts"
    assert ids(labour, status="draft") == of(draft)
    assert of(draft) <= ids(api.admin, status="draft")

    page = api.ok(api.get("/service-items", page=2, page_size=3))
    assert (page["total"], page["page"], page["page_size"], len(page["items"])) == (4, 2, 3, 1)
    rows = api.ok(api.get("/service-items", department=labour.id))["items"]
    row = next(i for i in rows if i["id"] == subsidy["id"])
    assert (row["title"], row["category"], row["mode"], row["status"], row["content_version"],
            row["provider_role"], row["provider_id"], row["department_id"]) == (
        "稳岗返还", "奖补类", "免申即享", "published", 1, "dept", labour.id, labour.id)


REQUEST = {"subject": "申请", "detail": ""}


def test_requests_are_filed_only_under_published_items(api):
    dept, applicant = api.department(), api.org()
    for state in ("suspended", "retired"):
        item = api.item(dept, state)
        before = api.event_count()
        response = api.post(f"/service-items/{item['id']}/requests", REQUEST, applicant)
        problem = expect_problem(response, 409, "guard-failed")
        assert problem["current_status"] == state
        assert api.event_count() == before
    for state in ("draft", "in_review", "discarded"):
        item = api.item(dept, state)
        before = api.event_count()
        response = api.post(f"/service-items/{item['id']}/requests", REQUEST, applicant)
        expect_problem(response, 404, "not-found")
        assert api.event_count() == before


# -- stats ----------------------------------------------------------------------------------------------

def test_stats_count_published_policy_items_and_shared_services_while_they_are_published(api):
    dept, org = api.department(), api.org()

    def totals() -> tuple:
        body = api.ok(api.get("/stats"))
        return body["policy_items"], body["services_shared"]

    assert totals() == (0, 0)
    policy = api.item(dept, "in_review", category="奖补类")
    service = api.item(org, "draft", category="咨询类")
    api.item(dept, "discarded")
    assert totals() == (0, 0), "drafts and items under review are not counted"

    api.act("service-items", policy["id"], "publish", api.admin)
    api.act("service-items", service["id"], "submit", org)
    api.act("service-items", service["id"], "publish", api.admin)
    api.item(dept, category="减免类")
    assert totals() == (2, 1)
    by_category = api.ok(api.get("/stats"))["by_category"]
    assert by_category["奖补类"]["policy_items"] == 1 and by_category["减免类"]["policy_items"] == 1
    assert by_category["咨询类"]["services_shared"] == 1

    api.act("service-items", policy["id"], "suspend", dept, {"reason": "政策调整"})
    api.act("service-items", service["id"], "revise", org, {"title": "法律咨询（新版）"})
    api.act("service-items", service["id"], "publish_revision", api.admin)
    assert totals() == (1, 1), "a suspended item leaves the count; a revision does not count twice"
    api.act("service-items", policy["id"], "resume", api.admin)
    assert totals() == (2, 1)
    api.act("service-items", service["id"], "retire", org)
    api.act("service-items", policy["id"], "suspend", dept, {"reason": "到期"})
    api.act("service-items", policy["id"], "retire", dept)
    assert totals() == (1, 0)
