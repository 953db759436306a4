"""Bad input on both backends: wrong types, missing fields, unknown or malformed ids, overlong
text, invalid UTF-8, non-JSON, impossible numbers and times each get a 4xx problem+json, never
a 5xx, and leave the event store (and the token table) unchanged."""
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.support import Api, Party

MISSING = object()
UNKNOWN_ID = "0b7f3c3e-6a52-4c0e-9a41-5d1b0d2f0c11"
LONG = "长" * 10_000


class Raw(bytes):
    """A body sent as these exact bytes, labelled application/json unless a case says otherwise."""

    content_type = "application/json"


class Text(Raw):
    content_type = "text/plain"


def build(spec, base: dict, refs: dict):
    """A case's body: changes to the valid `base` (MISSING drops a field), or made by a function."""
    if callable(spec):
        return spec(base, refs)
    body = dict(base)
    for field, value in spec.items():
        if value is MISSING:
            body.pop(field, None)
        else:
            body[field] = value(refs) if callable(value) else value
    return body


def send(client: TestClient, path: str, body, headers: dict):
    if isinstance(body, Raw):
        return client.post(path, content=bytes(body), headers={**headers, "content-type": body.content_type})
    return client.post(path, json=body, headers=headers)


def token_count(api: Api) -> int:
    return api.system.db.rows("SELECT COUNT(*) AS n FROM tokens")[0]["n"]


def assert_refused(api: Api, response, events: int, tokens: int | None = None) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    problem = response.json()
    assert {"type", "title", "status", "detail"} <= set(problem), problem
    assert problem["status"] == response.status_code
    assert api.event_count() == events
    if tokens is not None:
        assert token_count(api) == tokens


@pytest.fixture
def client(api) -> TestClient:
    """The same app, answering a server error with a 500 instead of raising it into the test."""
    return TestClient(api.client.app, raise_server_exceptions=False)


def at(hours: float) -> Callable[[dict], str]:
    """An aware time `hours` after the base body's starts_at."""
    return lambda refs: (refs["starts_at"] + timedelta(hours=hours)).isoformat()


def naive(hours: float) -> Callable[[dict], str]:
    return lambda refs: (refs["starts_at"] + timedelta(hours=hours)).replace(tzinfo=None).isoformat()


def body_raw(transform: Callable[[str], str]) -> Callable:
    """The valid body as JSON text, then edited as text (for what json.dumps will not write)."""
    def edit(base: dict, refs: dict) -> Raw:
        return Raw(transform(json.dumps(base, ensure_ascii=False)).encode("utf-8", "surrogatepass"))
    return edit


# bodies any JSON endpoint must refuse, whatever its fields
RAW_CASES = [
    pytest.param(lambda base, refs: Raw(b'{"title": "\xff\xfe\xfd", "name": "\xc3\x28"}'), id="invalid-utf8"),
    pytest.param(lambda base, refs: Raw(json.dumps(base, ensure_ascii=False).encode()[:-1] + b"\xff}"),
                 id="invalid-utf8-after-a-valid-body"),
    pytest.param(lambda base, refs: Raw(b"\xc3\x28\xa0\xa1"), id="invalid-utf8-bytes-only"),
    pytest.param(lambda base, refs: Raw(b"title=hello&needed=2"), id="form-encoded-not-json"),
    pytest.param(lambda base, refs: Raw(b"<demand><title>x</title></demand>"), id="xml-not-json"),
    pytest.param(lambda base, refs: Raw(json.dumps(base).encode()[:-5]), id="truncated-json"),
    pytest.param(lambda base, refs: Raw(b"[]"), id="json-empty-array"),
    pytest.param(lambda base, refs: [base], id="json-array-of-the-body"),
    pytest.param(lambda base, refs: Raw(b'"a string"'), id="json-string"),
    pytest.param(lambda base, refs: Raw(b"42"), id="json-number"),
    pytest.param(lambda base, refs: Raw(b"true"), id="json-true"),
    pytest.param(lambda base, refs: Raw(b"[" * 100_000 + b"]" * 100_000), id="json-nested-100000-deep"),
    pytest.param(lambda base, refs: Text(json.dumps(base).encode()), id="json-sent-as-text-plain"),
]
CORE_RAW_IDS = ("invalid-utf8", "form-encoded-not-json", "json-array-of-the-body", "json-string",
                "json-nested-100000-deep")
CORE_RAW_CASES = [p for p in RAW_CASES if p.id in CORE_RAW_IDS]
# bodies an endpoint whose body is required must also refuse
REQUIRED_BODY_CASES = [
    pytest.param(lambda base, refs: Raw(b"null"), id="json-null"),
    pytest.param(lambda base, refs: Raw(b""), id="empty-body"),
    pytest.param(lambda base, refs: Raw(b"{}"), id="empty-object"),
]


# -- POST /demands ------------------------------------------------------------------------------------

DEMAND_CASES = [
    pytest.param({"needed": "ten"}, id="needed-a-word"),
    pytest.param({"needed": "2"}, id="needed-a-numeric-string"),
    pytest.param({"needed": 2.5}, id="needed-fractional"),
    pytest.param({"needed": True}, id="needed-boolean"),
    pytest.param({"needed": None}, id="needed-null"),
    pytest.param({"needed": 0}, id="needed-zero"),
    pytest.param({"needed": -3}, id="needed-negative"),
    pytest.param({"needed": 10**30}, id="needed-huge"),
    pytest.param(body_raw(lambda t: t.replace('"needed": 2', '"needed": NaN')), id="needed-nan"),
    pytest.param(body_raw(lambda t: t.replace('"needed": 2', '"needed": 1e400')), id="needed-infinite"),
    pytest.param({"auto_confirm": "yes"}, id="auto-confirm-yes"),
    pytest.param({"auto_confirm": 1}, id="auto-confirm-one"),
    pytest.param({"auto_confirm": "true"}, id="auto-confirm-string-true"),
    pytest.param({"title": LONG}, id="title-10000-characters"),
    pytest.param({"title": "x" * 201}, id="title-201-characters"),
    pytest.param({"title": ""}, id="title-empty"),
    pytest.param({"title": "   "}, id="title-blank"),
    pytest.param({"title": 42}, id="title-a-number"),
    pytest.param({"title": ["社区助老"]}, id="title-a-list"),
    pytest.param(body_raw(lambda t: t.replace('"社区助老志愿服务"', '"\\ud800"')), id="title-lone-surrogate"),
    pytest.param({"description": LONG}, id="description-10000-characters"),
    pytest.param({"description": 7}, id="description-a-number"),
    pytest.param({"category": LONG}, id="category-10000-characters"),
    pytest.param({"category": ""}, id="category-empty"),
    pytest.param({"title": MISSING}, id="missing-title"),
    pytest.param({"category": MISSING}, id="missing-category"),
    pytest.param({"grid_id": MISSING}, id="missing-grid"),
    pytest.param({"needed": MISSING}, id="missing-needed"),
    pytest.param({"claim_deadline": MISSING}, id="missing-claim-deadline"),
    pytest.param({"starts_at": MISSING}, id="missing-starts-at"),
    pytest.param({"ends_at": MISSING}, id="missing-ends-at"),
    pytest.param({"grid_id": UNKNOWN_ID}, id="grid-unknown"),
    pytest.param({"grid_id": "not-a-grid"}, id="grid-malformed"),
    pytest.param({"grid_id": lambda refs: refs["org"]}, id="grid-is-an-organisation"),
    pytest.param({"grid_id": 17}, id="grid-a-number"),
    pytest.param({"grid_id": "g" * 10_000}, id="grid-10000-characters"),
    pytest.param({"starts_at": naive(0), "ends_at": naive(3)}, id="naive-datetimes"),
    pytest.param({"claim_deadline": naive(-24)}, id="naive-claim-deadline"),
    pytest.param({"ends_at": naive(3)}, id="naive-ends-at"),
    pytest.param({"starts_at": "next tuesday"}, id="starts-at-not-a-time"),
    pytest.param({"starts_at": "2026-02-30T09:00:00+08:00"}, id="starts-at-impossible-date"),
    pytest.param({"starts_at": "2026-06-03T09:00:00+25:00"}, id="starts-at-impossible-offset"),
    pytest.param({"starts_at": "2026-06-03"}, id="starts-at-a-date-only"),
    pytest.param({"ends_at": at(-1)}, id="ends-before-starts"),
    pytest.param({"ends_at": at(0)}, id="ends-when-it-starts"),
    pytest.param({"claim_deadline": at(1)}, id="claim-deadline-after-start"),
    *RAW_CASES,
    *REQUIRED_BODY_CASES,
]


def demand_refs(api: Api, owner: Party, base: dict) -> dict:
    return {"grid": api.grid(), "org": owner.id, "starts_at": datetime.fromisoformat(base["starts_at"])}


@pytest.mark.parametrize("spec", DEMAND_CASES)
def test_bad_demand_bodies_are_refused(api, client, spec):
    owner = api.org()
    base = api.demand_body()
    body = build(spec, base, demand_refs(api, owner, base))
    events = api.event_count()
    assert_refused(api, send(client, "/demands", body, owner.headers), events)
    assert api.ok(api.get("/demands", owner))["total"] == 0


@pytest.mark.parametrize("spec", [
    pytest.param({}, id="admin-without-organisation"),
    pytest.param({"organisation_id": UNKNOWN_ID}, id="admin-unknown-organisation"),
    pytest.param({"organisation_id": "not-an-organisation"}, id="admin-malformed-organisation"),
    pytest.param({"organisation_id": lambda refs: refs["grid"]}, id="admin-organisation-is-a-grid"),
    pytest.param({"organisation_id": 5}, id="admin-organisation-a-number"),
])
def test_bad_demand_bodies_from_the_operator_are_refused(api, client, spec):
    owner = api.org()
    base = api.demand_body()
    body = build(spec, base, demand_refs(api, owner, base))
    events = api.event_count()
    assert_refused(api, send(client, "/demands", body, api.admin.headers), events)


# -- POST /demands/{id}/claims -------------------------------------------------------------------------

CLAIM_CASES = [
    pytest.param({"headcount": "ten"}, id="headcount-a-word"),
    pytest.param({"headcount": "2"}, id="headcount-a-numeric-string"),
    pytest.param({"headcount": 1.5}, id="headcount-fractional"),
    pytest.param({"headcount": True}, id="headcount-boolean"),
    pytest.param({"headcount": None}, id="headcount-null"),
    pytest.param({"headcount": 0}, id="headcount-zero"),
    pytest.param({"headcount": -1}, id="headcount-negative"),
    pytest.param({"headcount": 1001}, id="headcount-too-large"),
    pytest.param({"headcount": 10**30}, id="headcount-huge"),
    pytest.param(body_raw(lambda t: t.replace('"headcount": 1', '"headcount": NaN')), id="headcount-nan"),
    pytest.param({"note": LONG}, id="note-10000-characters"),
    pytest.param({"note": 123}, id="note-a-number"),
    pytest.param({"note": ["a", "b"]}, id="note-a-list"),
    *CORE_RAW_CASES,
]


@pytest.mark.parametrize("spec", CLAIM_CASES)
def test_bad_claim_bodies_are_refused(api, client, spec):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open")
    body = build(spec, {"headcount": 1, "note": "我可以来"}, {})
    events = api.event_count()
    assert_refused(api, send(client, f"/demands/{demand['id']}/claims", body, member.headers), events)
    assert api.ok(api.get(f"/demands/{demand['id']}/claims", owner))["total"] == 0


@pytest.mark.parametrize("path", [
    pytest.param("/demands/not-a-uuid/claims", id="malformed-uuid"),
    pytest.param("/demands/12345/claims", id="a-number-not-a-uuid"),
    pytest.param("/demands/0b7f3c3e-6a52-4c0e-9a41-5d1b0d2f0c1/claims", id="uuid-one-digit-short"),
    pytest.param("/demands/0b7f3c3e-6a52-4c0e-9a41-5d1b0d2f0c11x/claims", id="uuid-with-a-tail"),
    pytest.param(f"/demands/{UNKNOWN_ID}/claims", id="unknown-demand"),
    pytest.param("/demands/%00/claims", id="nul-byte"),
    pytest.param("/demands/" + "a" * 5000 + "/claims", id="5000-character-id"),
])
def test_claims_on_malformed_or_unknown_demand_ids_are_refused(api, client, path):
    member = api.member()
    events = api.event_count()
    assert_refused(api, send(client, path, {"headcount": 1}, member.headers), events)


def test_claims_on_ids_of_other_things_or_unseen_demands_are_refused(api, client):
    owner, member, other = api.org(), api.member(), api.member()
    open_demand, draft = api.demand(owner, "open"), api.demand(owner, "draft")
    claim = api.claim(open_demand, member)
    events = api.event_count()
    for target in (claim["id"], api.grid(), owner.id, other.id, draft["id"]):
        response = send(client, f"/demands/{target}/claims", {"headcount": 1}, other.headers)
        assert_refused(api, response, events)
    assert api.ok(api.get(f"/demands/{open_demand['id']}/claims", owner))["total"] == 1


# -- POST /{collection}/{id}/actions/{trigger} ------------------------------------------------------------

def fulfilled(api: Api) -> tuple[Party, str]:
    owner = api.org()
    return owner, api.demand(owner, "fulfilled")["id"]


def pending_review(api: Api) -> tuple[Party, str]:
    return api.admin, api.demand(api.org(), "pending_review")["id"]


def draft(api: Api) -> tuple[Party, str]:
    owner = api.org()
    return owner, api.demand(owner, "draft")["id"]


def open_demand(api: Api) -> tuple[Party, str]:
    owner = api.org()
    return owner, api.demand(owner, "open")["id"]


def claim_in(status: str) -> Callable[[Api], tuple[Party, str]]:
    def setup(api: Api) -> tuple[Party, str]:
        owner = api.org()
        _, claim = api.claim_in(status, owner)
        return owner, claim["id"]
    return setup


ACTION_CASES = [
    # reasons
    pytest.param("demands", pending_review, "reject", {}, id="reject-without-reason"),
    pytest.param("demands", pending_review, "reject", {"reason": ""}, id="reject-empty-reason"),
    pytest.param("demands", pending_review, "reject", {"reason": "   "}, id="reject-blank-reason"),
    pytest.param("demands", pending_review, "reject", {"reason": 123}, id="reject-reason-a-number"),
    pytest.param("demands", pending_review, "reject", {"reason": LONG}, id="reject-reason-10000-characters"),
    pytest.param("demands", open_demand, "withdraw", {}, id="withdraw-without-reason"),
    pytest.param("claims", claim_in("pending"), "decline", {"reason": None}, id="decline-null-reason"),
    # ratings
    pytest.param("demands", fulfilled, "close", {"rating": "5"}, id="close-rating-a-string"),
    pytest.param("demands", fulfilled, "close", {"rating": 0}, id="close-rating-0"),
    pytest.param("demands", fulfilled, "close", {"rating": 6}, id="close-rating-6"),
    pytest.param("demands", fulfilled, "close", {}, id="close-without-rating"),
    pytest.param("demands", fulfilled, "close", {"rating": 5, "feedback": LONG},
                 id="close-feedback-10000-characters"),
    pytest.param("claims", claim_in("completed"), "verify", {"rating": "5"}, id="verify-rating-a-string"),
    pytest.param("claims", claim_in("completed"), "verify", {"rating": 0}, id="verify-rating-0"),
    pytest.param("claims", claim_in("completed"), "verify", {"rating": 6}, id="verify-rating-6"),
    pytest.param("claims", claim_in("completed"), "verify", {}, id="verify-without-rating"),
    # hours
    pytest.param("claims", claim_in("checked_in"), "complete", {"hours": 0}, id="complete-0-hours"),
    pytest.param("claims", claim_in("checked_in"), "complete", {"hours": 25}, id="complete-25-hours"),
    pytest.param("claims", claim_in("checked_in"), "complete", {"hours": 24.01}, id="complete-over-24-hours"),
    pytest.param("claims", claim_in("checked_in"), "complete", {"hours": -2}, id="complete-negative-hours"),
    pytest.param("claims", claim_in("checked_in"), "complete", {"hours": "2"}, id="complete-hours-a-string"),
    pytest.param("claims", claim_in("checked_in"), "complete", {"hours": True}, id="complete-hours-boolean"),
    pytest.param("claims", claim_in("checked_in"), "complete", {}, id="complete-without-hours"),
    pytest.param("claims", claim_in("checked_in"), "complete", Raw(b'{"hours": NaN}'),
                 id="complete-nan-hours"),
    pytest.param("claims", claim_in("checked_in"), "complete", Raw(b'{"hours": Infinity}'),
                 id="complete-infinite-hours"),
    pytest.param("claims", claim_in("checked_in"), "complete", Raw(b'{"hours": 1e400}'),
                 id="complete-1e400-hours"),
    # revisions
    pytest.param("demands", draft, "revise", {"needed": 0}, id="revise-needed-zero"),
    pytest.param("demands", draft, "revise", {"needed": -4}, id="revise-needed-negative"),
    pytest.param("demands", draft, "revise", {"needed": "ten"}, id="revise-needed-a-word"),
    pytest.param("demands", draft, "revise", {"title": LONG}, id="revise-title-10000-characters"),
    pytest.param("demands", draft, "revise", {"title": ""}, id="revise-title-empty"),
    pytest.param("demands", draft, "revise", {"title": "  "}, id="revise-title-blank"),
    pytest.param("demands", draft, "revise", {"starts_at": "2026-06-03T09:00:00"}, id="revise-naive-start"),
    pytest.param("demands", draft, "revise", {"ends_at": "2026-06-01T10:00:00+00:00"},
                 id="revise-ends-before-starts"),
    pytest.param("demands", draft, "revise", {"claim_deadline": "2026-06-30T00:00:00+00:00"},
                 id="revise-deadline-after-start"),
    # bodies that are not an object of fields
    *[pytest.param("demands", draft, "submit", p.values[0], id=f"submit-{p.id}") for p in RAW_CASES],
    *[pytest.param("claims", claim_in("pending"), "confirm", p.values[0], id=f"confirm-{p.id}")
      for p in RAW_CASES if p.id in ("invalid-utf8", "json-number")],
]


@pytest.mark.parametrize(("kind", "setup", "trigger", "spec"), ACTION_CASES)
def test_bad_action_bodies_are_refused(api, client, kind, setup, trigger, spec):
    by, record_id = setup(api)
    before = api.ok(api.get(f"/{kind}/{record_id}", api.admin))
    base = {"reason": "一个理由", "note": "x" * 40}
    body = build(spec, {} if isinstance(spec, dict) else base, {}) if not isinstance(spec, Raw) else spec
    events = api.event_count()
    assert_refused(api, send(client, f"/{kind}/{record_id}/actions/{trigger}", body, by.headers), events)
    assert api.ok(api.get(f"/{kind}/{record_id}", api.admin)) == before


@pytest.mark.parametrize("path", [
    pytest.param("/demands/not-a-uuid/actions/submit", id="demand-malformed-uuid"),
    pytest.param("/demands/%20/actions/submit", id="demand-blank-id"),
    pytest.param(f"/demands/{UNKNOWN_ID}/actions/submit", id="demand-unknown"),
    pytest.param("/claims/not-a-uuid/actions/confirm", id="claim-malformed-uuid"),
    pytest.param("/claims/1/actions/confirm", id="claim-number-id"),
    pytest.param(f"/claims/{UNKNOWN_ID}/actions/confirm", id="claim-unknown"),
    pytest.param("/demands/{demand}/actions/teleport", id="demand-unknown-action"),
    pytest.param("/demands/{demand}/actions/__init__", id="demand-dunder-action"),
    pytest.param("/demands/{demand}/actions/_decide", id="demand-private-method-as-action"),
    pytest.param("/demands/{demand}/actions/note_claim", id="demand-command-not-in-the-table"),
    pytest.param("/demands/{demand}/actions/" + "x" * 5000, id="demand-5000-character-action"),
    pytest.param("/claims/{demand}/actions/confirm", id="demand-id-as-claim"),
    pytest.param("/demands/{claim}/actions/submit", id="claim-id-as-demand"),
    pytest.param("/claims/{claim}/actions/submit", id="claim-with-a-demand-action"),
])
def test_actions_on_malformed_or_unknown_ids_or_triggers_are_refused(api, client, path):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open")
    claim = api.claim(demand, member)
    events = api.event_count()
    response = send(client, path.format(demand=demand["id"], claim=claim["id"]), {}, owner.headers)
    assert_refused(api, response, events)


# -- registry: POST /grids, /organisations, /members -----------------------------------------------------

GRID = {"code": "G-bad", "name": "三坊七巷网格", "type": "街区型", "district": "鼓楼区"}
GRID_CASES = [
    *[pytest.param({field: MISSING}, id=f"missing-{field}") for field in GRID],
    pytest.param({"type": "村型"}, id="type-unknown"),
    pytest.param({"type": 5}, id="type-a-number"),
    pytest.param({"code": LONG}, id="code-10000-characters"),
    pytest.param({"name": LONG}, id="name-10000-characters"),
    pytest.param({"name": ""}, id="name-empty"),
    pytest.param({"name": "   "}, id="name-blank"),
    pytest.param({"district": ["鼓楼区"]}, id="district-a-list"),
    pytest.param({"code": None}, id="code-null"),
    *CORE_RAW_CASES,
    *REQUIRED_BODY_CASES,
]


@pytest.mark.parametrize("spec", GRID_CASES)
def test_bad_grid_bodies_are_refused(api, client, spec):
    events = api.event_count()
    assert_refused(api, send(client, "/grids", build(spec, GRID, {}), api.admin.headers), events)


ORGANISATION_CASES = [
    pytest.param({"name": MISSING}, id="missing-name"),
    pytest.param({"kind": MISSING}, id="missing-kind"),
    pytest.param({"grid_id": MISSING}, id="missing-grid"),
    pytest.param({"district": MISSING}, id="missing-district"),
    pytest.param({"kind": "公司"}, id="kind-unknown"),
    pytest.param({"kind": 3}, id="kind-a-number"),
    pytest.param({"grid_id": UNKNOWN_ID}, id="grid-unknown"),
    pytest.param({"grid_id": "not-a-grid"}, id="grid-malformed"),
    pytest.param({"grid_id": 5}, id="grid-a-number"),
    pytest.param({"grid_id": lambda refs: refs["org"]}, id="grid-is-an-organisation"),
    pytest.param({"name": LONG}, id="name-10000-characters"),
    pytest.param({"name": ""}, id="name-empty"),
    pytest.param({"district": LONG}, id="district-10000-characters"),
    *CORE_RAW_CASES,
    *REQUIRED_BODY_CASES,
]


@pytest.mark.parametrize("spec", ORGANISATION_CASES)
def test_bad_organisation_bodies_are_refused(api, client, spec):
    org = api.org()
    base = {"name": "鼓楼社区党委", "kind": "党组织", "grid_id": api.grid(), "district": "鼓楼区"}
    events = api.event_count()
    response = send(client, "/organisations", build(spec, base, {"org": org.id}), api.admin.headers)
    assert_refused(api, response, events)


MEMBER_CASES = [
    pytest.param({"name": MISSING}, id="missing-name"),
    pytest.param({"organisation_id": MISSING}, id="missing-organisation"),
    pytest.param({"grid_id": MISSING}, id="missing-grid"),
    pytest.param({"organisation_id": UNKNOWN_ID}, id="organisation-unknown"),
    pytest.param({"organisation_id": "not-an-organisation"}, id="organisation-malformed"),
    pytest.param({"organisation_id": lambda refs: refs["grid"]}, id="organisation-is-a-grid"),
    pytest.param({"grid_id": UNKNOWN_ID}, id="grid-unknown"),
    pytest.param({"grid_id": lambda refs: refs["org"]}, id="grid-is-an-organisation"),
    pytest.param({"flowing": "yes"}, id="flowing-yes"),
    pytest.param({"flowing": 1}, id="flowing-one"),
    pytest.param({"flowing": None}, id="flowing-null"),
    pytest.param({"name": ""}, id="name-empty"),
    pytest.param({"name": LONG}, id="name-10000-characters"),
    pytest.param({"name": 12}, id="name-a-number"),
    *CORE_RAW_CASES,
    *REQUIRED_BODY_CASES,
]


@pytest.mark.parametrize("spec", MEMBER_CASES)
def test_bad_member_bodies_are_refused(api, client, spec):
    org = api.org()
    base = {"name": "林党员", "organisation_id": org.id, "grid_id": api.grid(), "flowing": False}
    refs = {"org": org.id, "grid": api.grid()}
    events = api.event_count()
    assert_refused(api, send(client, "/members", build(spec, base, refs), api.admin.headers), events)


# -- POST /auth/tokens ---------------------------------------------------------------------------------

TOKEN_CASES = [
    pytest.param({"role": "superuser"}, id="role-unknown"),
    pytest.param({"role": "system"}, id="role-system"),
    pytest.param({"role": "ADMIN"}, id="role-upper-case"),
    pytest.param({"role": 1}, id="role-a-number"),
    pytest.param({"role": MISSING}, id="missing-role"),
    pytest.param({"subject_id": MISSING}, id="missing-subject"),
    pytest.param({"name": MISSING}, id="missing-name"),
    pytest.param({"subject_id": ""}, id="subject-empty"),
    pytest.param({"subject_id": UNKNOWN_ID}, id="org-subject-unknown"),
    pytest.param({"subject_id": "not-an-organisation"}, id="org-subject-malformed"),
    pytest.param({"subject_id": lambda refs: refs["grid"]}, id="org-subject-is-a-grid"),
    pytest.param({"role": "member"}, id="member-subject-is-an-organisation"),
    pytest.param({"role": "dept", "subject_id": UNKNOWN_ID}, id="dept-subject-unknown"),
    pytest.param({"subject_id": LONG}, id="subject-10000-characters"),
    pytest.param({"name": LONG}, id="name-10000-characters"),
    pytest.param({"name": ""}, id="name-empty"),
    pytest.param({"name": 7}, id="name-a-number"),
    *CORE_RAW_CASES,
    *REQUIRED_BODY_CASES,
]


@pytest.mark.parametrize("spec", TOKEN_CASES)
def test_bad_token_requests_are_refused(api, client, spec):
    org = api.org()
    base = {"role": "org", "subject_id": org.id, "name": "社区党委账号"}
    events, tokens = api.event_count(), token_count(api)
    response = send(client, "/auth/tokens", build(spec, base, {"grid": api.grid()}), api.admin.headers)
    assert_refused(api, response, events, tokens)


# -- text with a NUL character: refused, or stored and served; never a 500, never a stuck projector ---------

def assert_refused_or_served(api: Api, response, events: int) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert api.event_count() == events
    # either way the system keeps working: a new demand posts and the read models serve it
    owner = api.org()
    created = api.post("/demands", api.demand_body(title="之后的需求"), owner)
    assert created.status_code == 201, created.text
    assert created.json()["id"] in {d["id"] for d in api.ok(api.get("/demands", owner))["items"]}
    assert api.get("/stats").status_code == 200


@pytest.mark.parametrize("field", ["title", "description", "category"])
def test_a_nul_character_in_demand_text_never_breaks_the_system(api, client, field):
    owner = api.org()
    body = api.demand_body(**{field: "社区\u0000助老"})
    events = api.event_count()
    assert_refused_or_served(api, send(client, "/demands", body, owner.headers), events)


def test_a_nul_character_in_a_claim_note_never_breaks_the_system(api, client):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open")
    events = api.event_count()
    body = {"headcount": 1, "note": "a\u0000b"}
    response = send(client, f"/demands/{demand['id']}/claims", body, member.headers)
    assert_refused_or_served(api, response, events)


def test_a_nul_character_in_a_reason_never_breaks_the_system(api, client):
    demand = api.demand(api.org(), "pending_review")
    events = api.event_count()
    body = {"reason": "信息\u0000不全"}
    response = send(client, f"/demands/{demand['id']}/actions/reject", body, api.admin.headers)
    assert_refused_or_served(api, response, events)


def test_a_nul_character_in_a_registration_never_breaks_the_system(api, client):
    events = api.event_count()
    response = send(client, "/grids", {**GRID, "name": "网格\u0000一"}, api.admin.headers)
    assert_refused_or_served(api, response, events)


def test_a_nul_character_in_a_token_request_is_never_a_500(api, client):
    events, tokens = api.event_count(), token_count(api)
    response = send(client, "/auth/tokens", {"role": "auditor", "subject_id": "审计\u0000员", "name": "x\u0000"},
                    api.admin.headers)
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    if response.status_code >= 400:
        assert_refused(api, response, events, tokens)


@pytest.mark.parametrize("param", ["q", "status", "grid", "category"])
def test_a_nul_character_in_a_board_filter_is_never_a_500(api, client, param):
    response = client.get("/demands", params={param: "a\u0000b"})
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    if response.status_code == 200:
        assert response.json()["items"] == []
    else:
        assert response.headers["content-type"].startswith("application/problem+json")


# -- bad query parameters on reads -----------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    pytest.param({"page": 0}, id="page-zero"),
    pytest.param({"page": -1}, id="page-negative"),
    pytest.param({"page": "two"}, id="page-a-word"),
    pytest.param({"page": 10**30}, id="page-huge"),
    pytest.param({"page_size": 0}, id="page-size-zero"),
    pytest.param({"page_size": 1000}, id="page-size-too-large"),
    pytest.param({"page_size": "all"}, id="page-size-a-word"),
    pytest.param({"q": "长" * 1000}, id="q-1000-characters"),
    pytest.param({"min_position": "demands:abc"}, id="min-position-malformed"),
    pytest.param({"min_position": "nowhere:1"}, id="min-position-unknown-context"),
])
def test_bad_board_queries_are_refused(api, client, params):
    response = client.get("/demands", params=params)
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
