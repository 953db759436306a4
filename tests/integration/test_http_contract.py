"""The HTTP contract of DESIGN §4 on both backends: Idempotency-Key replay, If-Match, ETags,
positions and min_position, request ids, and the problem+json shape of every error."""
import time
import uuid

import pytest

from tests.support import Api

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    """An RFC 9457 problem with the four fields DESIGN §4 names, its status matching the response's."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if slug is not None:
        assert body["type"] == f"/problems/{slug}", body
    return body


def etag_version(response) -> int:
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"'), etag
    return int(etag.strip('"'))


def post(api: Api, path: str, body, by, key: str | None = None, **headers):
    extra = dict(headers)
    if key is not None:
        extra["Idempotency-Key"] = key
    return api.post(path, body, by, headers=extra)


def demand_rows(api: Api) -> int:
    return api.system.db.rows("SELECT COUNT(*) AS n FROM demand_board")[0]["n"]


# -- Idempotency-Key ------------------------------------------------------------------------

def test_a_create_retried_with_the_same_key_returns_the_first_response_and_creates_once(api):
    owner = api.org()
    body = api.demand_body()
    first = post(api, "/demands", body, owner, key="create-1")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    events = api.event_count()

    again = post(api, "/demands", body, owner, key="create-1")

    assert again.status_code == 201
    assert again.content == first.content
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["content-type"].startswith("application/json")
    assert api.event_count() == events
    assert demand_rows(api) == 1
    assert api.ok(api.get("/demands", owner))["total"] == 1


def test_a_create_without_a_key_is_not_deduplicated(api):
    owner = api.org()
    body = api.demand_body()
    a = api.ok(api.post("/demands", body, owner), 201)
    b = api.ok(api.post("/demands", body, owner), 201)
    assert a["id"] != b["id"]
    assert demand_rows(api) == 2


def test_a_registry_create_retried_with_the_same_key_is_replayed(api):
    grid = api.grid()
    body = {"name": "鼓楼社区党委", "kind": "党组织", "grid_id": grid, "district": "鼓楼区"}
    first = post(api, "/organisations", body, api.admin, key="org-1")
    assert first.status_code == 201, first.text
    events = api.event_count()
    again = post(api, "/organisations", body, api.admin, key="org-1")
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert api.event_count() == events


def test_a_claim_retried_with_the_same_key_is_made_once(api):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open")
    first = post(api, f"/demands/{demand['id']}/claims", {"headcount": 1}, member, key="claim-1")
    assert first.status_code == 201, first.text
    events = api.event_count()
    again = post(api, f"/demands/{demand['id']}/claims", {"headcount": 1}, member, key="claim-1")
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert api.event_count() == events
    claims = api.ok(api.get(f"/demands/{demand['id']}/claims", owner))
    assert claims["total"] == 1


def test_an_action_retried_with_the_same_key_is_not_applied_twice(api):
    owner = api.org()
    demand = api.demand(owner, "draft")
    revise = {"title": "周末助老志愿服务"}
    first = post(api, f"/demands/{demand['id']}/actions/revise", revise, owner, key="revise-1")
    assert first.status_code == 200, first.text
    assert first.json()["version"] == demand["version"] + 1
    events = api.event_count()

    again = post(api, f"/demands/{demand['id']}/actions/revise", revise, owner, key="revise-1")

    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert api.event_count() == events
    assert api.ok(api.get(f"/demands/{demand['id']}", owner))["version"] == demand["version"] + 1


def test_a_retried_withdrawal_replays_its_success_instead_of_a_conflict(api):
    owner = api.org()
    demand = api.demand(owner, "open")
    body = {"reason": "活动取消"}
    first = post(api, f"/demands/{demand['id']}/actions/withdraw", body, owner, key="withdraw-1")
    assert first.status_code == 200, first.text
    events = api.event_count()
    again = post(api, f"/demands/{demand['id']}/actions/withdraw", body, owner, key="withdraw-1")
    assert (again.status_code, again.content) == (200, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert api.event_count() == events
    # without the key the same request is a new one, and the lifecycle refuses it
    retried = api.post(f"/demands/{demand['id']}/actions/withdraw", body, owner)
    assert_problem(retried, 409, "invalid-transition")


def test_the_same_key_with_a_different_body_is_refused_with_422(api):
    owner = api.org()
    first = post(api, "/demands", api.demand_body(), owner, key="create-2")
    assert first.status_code == 201, first.text
    events = api.event_count()

    other = post(api, "/demands", api.demand_body(title="另一个需求"), owner, key="create-2")

    assert_problem(other, 422)
    assert "idempotent-replayed" not in other.headers
    assert api.event_count() == events
    assert demand_rows(api) == 1
    # the first response is still the one a true retry gets
    again = post(api, "/demands", api.demand_body(), owner, key="create-2")
    assert (again.status_code, again.content) == (201, first.content)


def test_the_same_key_with_a_different_action_body_is_refused_with_422(api):
    owner = api.org()
    demand = api.demand(owner, "draft")
    ok = post(api, f"/demands/{demand['id']}/actions/revise", {"title": "标题一"}, owner, key="rev")
    assert ok.status_code == 200, ok.text
    events = api.event_count()
    other = post(api, f"/demands/{demand['id']}/actions/revise", {"title": "标题二"}, owner, key="rev")
    assert_problem(other, 422)
    assert api.event_count() == events
    assert api.ok(api.get(f"/demands/{demand['id']}", owner))["title"] == "标题一"


def test_keys_are_per_caller(api):
    a, b = api.org(), api.org()
    body = api.demand_body()
    first = post(api, "/demands", body, a, key="shared-key")
    second = post(api, "/demands", body, b, key="shared-key")
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert "idempotent-replayed" not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert first.json()["organisation_id"] == a.id
    assert second.json()["organisation_id"] == b.id
    assert demand_rows(api) == 2
    # and b's different body under the same key is not a reuse of a's key
    third = post(api, "/grids", {"code": "GX", "name": "网格", "type": "小区型", "district": "鼓楼区"}, api.admin,
                 key="shared-key")
    assert third.status_code == 201, third.text


def test_a_create_id_derives_from_caller_and_key_so_a_lost_response_still_creates_once(api):
    owner = api.org()
    body = api.demand_body()
    first = api.ok(post(api, "/demands", body, owner, key="crash-1"), 201)
    events = api.event_count()
    with api.system.db.transaction() as tx:
        tx.execute("DELETE FROM idempotency")

    again = post(api, "/demands", body, owner, key="crash-1")

    assert again.status_code == 201, again.text
    assert "idempotent-replayed" not in again.headers
    assert again.json()["id"] == first["id"]
    assert again.json()["version"] == first["version"]
    assert api.event_count() == events
    assert demand_rows(api) == 1
    # another key, or another caller with this key, is another demand
    other_key = api.ok(post(api, "/demands", body, owner, key="crash-2"), 201)
    other_caller = api.ok(post(api, "/demands", body, api.org(), key="crash-1"), 201)
    assert len({first["id"], other_key["id"], other_caller["id"]}) == 3


def test_a_claim_id_derives_from_caller_and_key_so_a_lost_response_still_claims_once(api):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open")
    path = f"/demands/{demand['id']}/claims"
    first = api.ok(post(api, path, {"headcount": 1}, member, key="claim-crash"), 201)
    events = api.event_count()
    with api.system.db.transaction() as tx:
        tx.execute("DELETE FROM idempotency")
    again = post(api, path, {"headcount": 1}, member, key="claim-crash")
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first["id"]
    assert api.event_count() == events
    assert api.ok(api.get(path, owner))["total"] == 1


def test_a_registration_id_derives_from_caller_and_key(api):
    body = {"code": "G-crash", "name": "网格", "type": "小区型", "district": "鼓楼区"}
    first = api.ok(post(api, "/grids", body, api.admin, key="grid-crash"), 201)
    events = api.event_count()
    with api.system.db.transaction() as tx:
        tx.execute("DELETE FROM idempotency")
    again = api.ok(post(api, "/grids", body, api.admin, key="grid-crash"), 201)
    assert again["id"] == first["id"]
    assert api.event_count() == events


def test_an_overlong_idempotency_key_is_a_422_problem(api):
    owner = api.org()
    events = api.event_count()
    assert_problem(post(api, "/demands", api.demand_body(), owner, key="k" * 201), 422)
    assert api.event_count() == events


# -- ETag and If-Match -------------------------------------------------------------------------

def test_get_and_command_responses_carry_the_version_as_etag(api):
    owner, member = api.org(), api.member()
    created = api.post("/demands", api.demand_body(), owner)
    assert created.status_code == 201
    assert etag_version(created) == created.json()["version"]
    demand_id = created.json()["id"]

    got = api.get(f"/demands/{demand_id}", owner)
    assert got.headers["etag"] == f'"{got.json()["version"]}"'

    submitted = api.post(f"/demands/{demand_id}/actions/submit", {}, owner)
    assert submitted.status_code == 200
    assert etag_version(submitted) == submitted.json()["version"] == got.json()["version"] + 1
    api.act("demands", demand_id, "approve", api.admin)

    claim = api.post(f"/demands/{demand_id}/claims", {"headcount": 1}, member)
    assert etag_version(claim) == claim.json()["version"]
    got_claim = api.get(f"/claims/{claim.json()['id']}", member)
    assert etag_version(got_claim) == got_claim.json()["version"]
    confirmed = api.post(f"/claims/{claim.json()['id']}/actions/confirm", {}, owner)
    assert etag_version(confirmed) == confirmed.json()["version"] == got_claim.json()["version"] + 1

    grid = api.get(f"/grids/{api.grid()}")
    assert etag_version(grid) == grid.json()["version"]


def test_if_match_with_the_current_version_succeeds(api):
    owner = api.org()
    demand = api.demand(owner, "draft")
    response = api.post(f"/demands/{demand['id']}/actions/submit", {}, owner,
                        headers={"If-Match": f'"{demand["version"]}"'})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "pending_review"
    # If-Match: * matches any current version
    approved = api.post(f"/demands/{demand['id']}/actions/approve", {}, api.admin, headers={"If-Match": "*"})
    assert approved.status_code == 200, approved.text


def test_a_stale_if_match_is_a_412_problem_and_changes_nothing(api):
    owner = api.org()
    demand = api.demand(owner, "draft")
    stale = demand["version"]
    api.act("demands", demand["id"], "revise", owner, {"title": "新标题"})
    before = api.ok(api.get(f"/demands/{demand['id']}", owner))
    events = api.event_count()

    response = api.post(f"/demands/{demand['id']}/actions/submit", {}, owner,
                        headers={"If-Match": f'"{stale}"'})

    body = assert_problem(response, 412, "stale-version")
    assert body.get("current_version", before["version"]) == before["version"]
    assert api.event_count() == events
    assert api.ok(api.get(f"/demands/{demand['id']}", owner)) == before
    assert before["status"] == "draft"


def test_a_stale_if_match_on_a_claim_action_is_a_412_problem(api):
    owner, member = api.org(), api.member()
    _, claim = api.claim_in("pending", owner, member)
    stale = claim["version"]
    api.act("claims", claim["id"], "waitlist", owner)
    before = api.ok(api.get(f"/claims/{claim['id']}", member))
    events = api.event_count()

    response = api.post(f"/claims/{claim['id']}/actions/cancel", {"reason": "临时有事"}, member,
                        headers={"If-Match": f'"{stale}"'})

    assert_problem(response, 412, "stale-version")
    assert api.event_count() == events
    assert api.ok(api.get(f"/claims/{claim['id']}", member)) == before
    assert before["status"] == "waitlisted"
    # with the current version the same cancel goes through
    ok = api.post(f"/claims/{claim['id']}/actions/cancel", {"reason": "临时有事"}, member,
                  headers={"If-Match": f'"{before["version"]}"'})
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "cancelled"


def test_an_if_match_that_is_no_version_at_all_is_refused_and_changes_nothing(api):
    owner = api.org()
    demand = api.demand(owner, "draft")
    events = api.event_count()
    response = api.post(f"/demands/{demand['id']}/actions/submit", {}, owner,
                        headers={"If-Match": '"banana"'})
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)
    assert api.event_count() == events


# -- problem+json for every error class --------------------------------------------------------

def test_401_without_a_token(api):
    api.grid()
    events = api.event_count()
    body = assert_problem(api.post("/demands", api.demand_body()), 401)
    assert body["detail"]
    response = api.post("/demands", api.demand_body())
    assert "bearer" in response.headers.get("www-authenticate", "").lower()
    assert_problem(api.client.get(f"/claims/{uuid.uuid4()}"), 401)
    assert api.event_count() == events


@pytest.mark.parametrize("authorization",
                         ["Bearer not-a-token", "Bearer ", "Basic YWRtaW46YWRtaW4=", "token"])
def test_401_with_a_bad_token(api, authorization):
    api.grid()
    events = api.event_count()
    response = api.client.post("/demands", json=api.demand_body(), headers={"Authorization": authorization})
    assert_problem(response, 401)
    assert api.event_count() == events
    # reading the board anonymously is allowed, but a bad token is still refused
    assert_problem(api.client.get("/demands", headers={"Authorization": authorization}), 401)


def test_403_for_the_wrong_role_or_owner(api):
    owner, other, member = api.org(), api.org(), api.member()
    demand = api.demand(owner, "pending_review")
    events = api.event_count()
    assert_problem(api.post("/demands", api.demand_body(), member), 403)
    assert_problem(api.post(f"/demands/{demand['id']}/actions/approve", {}, owner), 403)
    grid = {"code": "X", "name": "网格", "type": "小区型", "district": "鼓楼区"}
    assert_problem(api.post("/grids", grid, owner), 403)
    assert_problem(api.post("/auth/tokens", {"role": "admin", "subject_id": "x", "name": "x"}, owner), 403)
    open_demand = api.demand(owner, "open")
    events = api.event_count()
    assert_problem(api.post(f"/demands/{open_demand['id']}/actions/withdraw", {"reason": "不是我的"}, other), 403)
    assert_problem(api.post(f"/demands/{open_demand['id']}/claims", {"headcount": 1}, api.admin), 403)
    assert api.event_count() == events
    assert demand["status"] == "pending_review"


def test_404_for_an_unknown_id_or_action(api):
    owner = api.org()
    demand = api.demand(owner, "draft")
    events = api.event_count()
    unknown = uuid.uuid4()
    assert_problem(api.get(f"/demands/{unknown}"), 404)
    assert_problem(api.get(f"/claims/{unknown}", owner), 404)
    assert_problem(api.get(f"/grids/{unknown}"), 404)
    assert_problem(api.get(f"/organisations/{unknown}"), 404)
    assert_problem(api.get(f"/members/{unknown}", owner), 404)
    assert_problem(api.get(f"/members/{unknown}/service-record", owner), 404)
    assert_problem(api.post(f"/demands/{unknown}/actions/submit", {}, owner), 404)
    assert_problem(api.post(f"/demands/{unknown}/claims", {"headcount": 1}, api.member()), 404)
    assert_problem(api.post(f"/claims/{unknown}/actions/confirm", {}, owner), 404)
    assert_problem(api.post(f"/demands/{demand['id']}/actions/teleport", {}, owner), 404)
    assert_problem(api.post(f"/demands/{demand['id']}/actions/__init__", {}, owner), 404)
    assert_problem(api.get("/no-such-collection"), 404)
    # a draft is not visible to the public: it is not found rather than forbidden
    assert_problem(api.get(f"/demands/{demand['id']}"), 404)
    # a claim id is not a demand id
    open_demand = api.demand(owner, "open")
    claim = api.claim(open_demand, api.member())
    events = api.event_count()
    assert_problem(api.get(f"/demands/{claim['id']}"), 404)
    assert_problem(api.get(f"/claims/{open_demand['id']}", owner), 404)
    assert api.event_count() == events


def test_409_invalid_transition_names_the_current_status_and_allowed_actions(api):
    owner = api.org()
    demand = api.demand(owner, "draft")
    events = api.event_count()

    body = assert_problem(api.post(f"/demands/{demand['id']}/actions/approve", {}, api.admin), 409,
                          "invalid-transition")
    assert body["current_status"] == "draft"
    assert body["allowed_actions"] == ["withdraw"]

    body = assert_problem(api.post(f"/demands/{demand['id']}/actions/start", {}, owner), 409,
                          "invalid-transition")
    assert body["current_status"] == "draft"
    assert set(body["allowed_actions"]) == {"revise", "submit", "withdraw"}
    assert body["allowed_actions"] == api.ok(api.get(f"/demands/{demand['id']}", owner))["allowed_actions"]
    assert api.event_count() == events


def test_409_capacity_exceeded(api):
    owner = api.org()
    demand = api.demand(owner, "open", needed=1)
    first, second = api.claim(demand, api.member()), api.claim(demand, api.member())
    api.act("claims", first["id"], "confirm", owner)
    events = api.event_count()
    assert_problem(api.post(f"/claims/{second['id']}/actions/confirm", {}, owner), 409, "capacity-exceeded")
    assert api.event_count() == events
    assert api.ok(api.get(f"/claims/{second['id']}", owner))["status"] == "pending"


def test_409_duplicate_claim(api):
    owner, member = api.org(), api.member()
    demand = api.demand(owner, "open")
    api.claim(demand, member)
    events = api.event_count()
    again = api.post(f"/demands/{demand['id']}/claims", {"headcount": 1}, member)
    assert_problem(again, 409, "duplicate-claim")
    assert api.event_count() == events


def test_422_validation(api):
    owner = api.org()
    events = api.event_count()
    body = assert_problem(api.post("/demands", api.demand_body(needed=0), owner), 422)
    assert "needed" in body["detail"]
    demand = api.demand(owner, "pending_review")
    events = api.event_count()
    assert_problem(api.post(f"/demands/{demand['id']}/actions/reject", {}, api.admin), 422)
    assert api.event_count() == events


def test_405_is_a_problem_too(api):
    response = api.client.delete("/demands")
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)


# -- request ids and positions -------------------------------------------------------------------

def test_x_request_id_is_echoed_or_generated(api):
    owner = api.org()
    echoed = api.client.get("/demands", headers={"X-Request-ID": "req-abc-123"})
    assert echoed.headers["x-request-id"] == "req-abc-123"
    generated_a, generated_b = api.client.get("/demands"), api.client.get("/demands")
    assert generated_a.headers["x-request-id"] and generated_b.headers["x-request-id"]
    assert generated_a.headers["x-request-id"] != generated_b.headers["x-request-id"]
    # on commands and on errors alike
    created = api.post("/demands", api.demand_body(), owner, headers={"X-Request-ID": "req-create"})
    assert created.headers["x-request-id"] == "req-create"
    failed = api.post("/demands", api.demand_body(needed=-1), owner, headers={"X-Request-ID": "req-fail"})
    assert failed.status_code == 422
    assert failed.headers["x-request-id"] == "req-fail"
    assert api.client.get(f"/demands/{uuid.uuid4()}").headers["x-request-id"]
    # a replayed response carries this request's id, not the first one's
    body = api.demand_body()
    first = api.post("/demands", body, owner, headers={"Idempotency-Key": "rid", "X-Request-ID": "one"})
    again = api.post("/demands", body, owner, headers={"Idempotency-Key": "rid", "X-Request-ID": "two"})
    assert (first.headers["x-request-id"], again.headers["x-request-id"]) == ("one", "two")


def test_command_responses_carry_a_position_that_min_position_honours_at_once(api):
    owner, member = api.org(), api.member()
    created = api.ok(api.post("/demands", api.demand_body(), owner), 201)
    context, _, number = created["position"].partition(":")
    assert context == "demands" and number.isdigit() and int(number) >= 1

    submitted = api.act("demands", created["id"], "submit", owner)
    approved = api.act("demands", created["id"], "approve", api.admin)
    claim = api.claim(api.ok(api.get(f"/demands/{created['id']}")), member)
    positions = [int(r["position"].split(":")[1]) for r in (created, submitted, approved, claim)]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert claim["position"] == f"demands:{positions[-1]}"

    started = time.monotonic()
    board = api.ok(api.get("/demands", api.admin, min_position=claim["position"]))
    assert time.monotonic() - started < 1.0
    assert [d["id"] for d in board["items"]] == [created["id"]]
    # the board already reflects the claim, noted on the demand at that position
    current = api.ok(api.get(f"/demands/{created['id']}", api.admin))
    assert board["items"][0]["version"] == current["version"] > approved["version"]

    registered = api.ok(api.post("/grids", {"code": "G-pos", "name": "网格", "type": "小区型", "district": "鼓楼区"},
                                 api.admin), 201)
    assert registered["position"].startswith("registry:")
    started = time.monotonic()
    both = f"{registered['position']},{claim['position']}"
    api.ok(api.get("/stats", None, min_position=both))
    api.ok(api.get(f"/demands/{created['id']}/claims", owner, min_position=claim["position"]))
    api.ok(api.get(f"/members/{member.id}/service-record", member, min_position=claim["position"]))
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("min_position",
                         ["nowhere:3", "elsewhere:1,demands:1", "demands", "demands:x", ":4", "demands:-1"])
def test_a_bad_min_position_is_a_422_problem(api, min_position):
    assert_problem(api.get("/demands", None, min_position=min_position), 422)
    assert_problem(api.get("/stats", None, min_position=min_position), 422)


def test_the_same_key_from_another_token_of_the_same_organisation_is_not_answered_with_the_other_demand(api):
    first_token = api.org()
    second_token = api.token("org", first_token.id)  # a second staff account of the same organisation
    first = api.ok(post(api, "/demands", api.demand_body(title="甲的需求"), first_token, key="1"), 201)
    events = api.event_count()

    other = post(api, "/demands", api.demand_body(title="乙的需求"), second_token, key="1")

    # a 201 must describe what was asked for; otherwise this is a key reused with another body
    if other.status_code == 201:
        assert other.json()["title"] == "乙的需求", (first, other.json())
        assert other.json()["id"] != first["id"]
    else:
        assert_problem(other, 422)
        assert api.event_count() == events


def test_a_derived_claim_id_never_answers_a_claim_on_another_demand(api):
    owner, member = api.org(), api.member()
    d1, d2 = api.demand(owner, "open"), api.demand(owner, "open")
    first = api.ok(post(api, f"/demands/{d1['id']}/claims", {"headcount": 1}, member, key="claim-key"), 201)
    with api.system.db.transaction() as tx:  # the stored response is gone (lost, or expired)
        tx.execute("DELETE FROM idempotency")

    other = post(api, f"/demands/{d2['id']}/claims", {"headcount": 1}, member, key="claim-key")

    if other.status_code == 201:
        assert other.json()["demand_id"] == d2["id"], (first, other.json())
    else:
        assert_problem(other, 422)
