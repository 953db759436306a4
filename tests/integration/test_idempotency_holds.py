"""Idempotency that holds, on both backends: concurrent requests with one key run the command
once, only authenticated requests keep anything, replies expire, the fingerprint covers method,
path, query, If-Match and body, and the scope is the token's identity, not the header's spelling."""
import threading
from datetime import UTC, datetime, timedelta

import pytest

from api import idempotency
from tests.support import Api


def kept(api: Api) -> int:
    return api.system.db.rows("SELECT COUNT(*) AS n FROM idempotency")[0]["n"]


def test_concurrent_requests_with_one_key_run_the_command_once(api):
    org = api.org()
    draft = api.demand(org, "draft")
    answers = []

    def revise() -> None:
        answers.append(api.post(f"/demands/{draft['id']}/actions/revise", {"title": "改过的标题"}, org,
                                headers={"Idempotency-Key": "revise-once"}))

    threads = [threading.Thread(target=revise) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [r.status_code for r in answers] == [200] * 6
    assert sorted(r.headers.get("idempotent-replayed", "no") for r in answers) == ["no"] + ["true"] * 5
    assert {r.json()["version"] for r in answers} == {2}
    assert api.ok(api.get(f"/demands/{draft['id']}", org))["version"] == 2


def test_a_second_request_gets_409_while_the_first_still_runs_past_the_wait(api, monkeypatch):
    org = api.org()
    draft = api.demand(org, "draft")
    path, body = f"/demands/{draft['id']}/actions/submit", b"{}"
    headers = {**org.headers, "Idempotency-Key": "slow", "content-type": "application/json"}
    first = api.client.post(path, content=body, headers={**headers, "Idempotency-Key": "probe"})
    identity = api.system.db.rows("SELECT scope FROM idempotency WHERE key = 'probe'")[0]["scope"]
    fingerprint = idempotency._digest(b"POST", path.encode(), b"", b"", body)
    api.system.idempotency.reserve(identity, "slow", fingerprint, timedelta(hours=24))  # another request runs it
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.2)

    response = api.client.post(path, content=body, headers=headers)

    assert first.status_code == 200
    assert response.status_code == 409 and response.json()["type"] == "/problems/idempotency-in-progress"
    assert response.headers["retry-after"] == "1"


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic YWRtaW46YWRtaW4="])
def test_requests_that_are_not_authenticated_keep_nothing(api, authorization):
    before = kept(api)
    headers = {"Idempotency-Key": "anonymous-1", **({"Authorization": authorization} if authorization else {})}

    response = api.client.post("/demands", json=api.demand_body(), headers=headers)

    assert response.status_code == 401
    assert kept(api) == before


def test_a_reply_is_forgotten_once_it_expires(api):
    org = api.org()
    draft = api.demand(org, "draft")
    key = {"Idempotency-Key": "daily"}
    first = api.post(f"/demands/{draft['id']}/actions/revise", {"title": "第一天"}, org, headers=key)
    with api.system.db.transaction() as tx:  # 25 hours go by
        tx.execute("UPDATE idempotency SET created_at = %s",
                   ((datetime.now(UTC) - timedelta(hours=25)).isoformat(),))

    again = api.post(f"/demands/{draft['id']}/actions/revise", {"title": "第二天"}, org, headers=key)

    assert first.status_code == again.status_code == 200, again.text
    assert again.headers.get("idempotent-replayed") is None
    assert (again.json()["title"], again.json()["version"]) == ("第二天", 3)


@pytest.mark.parametrize("change", [
    pytest.param({"params": {"x": "1"}}, id="another-query"),
    pytest.param({"headers": {"If-Match": '"1"'}}, id="another-if-match"),
    pytest.param({"json": {"title": "别的标题"}}, id="another-body"),
])
def test_the_same_key_with_another_query_if_match_or_body_is_refused(api, change):
    org = api.org()
    draft = api.demand(org, "draft")
    path = f"/demands/{draft['id']}/actions/revise"
    first = api.client.post(path, json={"title": "改过的标题"}, headers={**org.headers, "Idempotency-Key": "k"})

    sent = {"json": {"title": "改过的标题"}, **{k: v for k, v in change.items() if k != "headers"}}
    second = api.client.post(path, **sent, headers={**org.headers, "Idempotency-Key": "k", **change.get("headers", {})})

    assert first.status_code == 200
    assert second.status_code == 422 and second.json()["type"] == "/problems/idempotency-key-reused", second.text


def test_the_scope_is_the_tokens_identity_however_the_header_is_spelled(api):
    org = api.org()
    token = org.headers["Authorization"].removeprefix("Bearer ")
    body = api.demand_body()

    first = api.client.post("/demands", json=body, headers={"Authorization": f"Bearer {token}",
                                                            "Idempotency-Key": "spelling"})
    second = api.client.post("/demands", json=body, headers={"Authorization": f"bearer  {token}",
                                                             "Idempotency-Key": "spelling"})

    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert api.ok(api.get("/demands", org))["total"] == 1
