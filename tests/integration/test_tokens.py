"""Tokens with a life, on both backends: the create reply names the token's id and expiry, the
operator lists tokens without their secrets and revokes them, a revoked or expired token is 401 on
every process within a second, subjects are checked per role, and resolving a token on the hot
path does not go to the database each time."""
import time
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from api import cli
from tests.support import Api, Unclosed, new_system

LISTED = {"id", "role", "subject_id", "name", "created_at", "expires_at", "revoked_at", "revoke_reason"}


@pytest.fixture
def two_processes(backend):
    """Two API processes on one store, each with its own token cache."""
    first, second = new_system(**backend), new_system(**backend)
    try:
        with Api.serving(first) as a, Api.serving(second) as b:
            yield a, b
    finally:
        first.shutdown()
        second.shutdown()


def mint(api: Api, **body) -> dict:
    member = api.member()
    return api.ok(api.post("/auth/tokens", {"role": "member", "subject_id": member.id, "name": "张三的手机", **body},
                           api.admin), 201)


def as_bearer(token: dict) -> dict:
    return {"Authorization": f"Bearer {token['token']}"}


def test_the_create_reply_carries_the_tokens_id_and_expiry(api):
    default, weekly = mint(api), mint(api, expires_in_days=7)

    for token, days in ((default, 90), (weekly, 7)):
        assert set(token) == {"id", "token", "role", "subject_id", "name", "created_at", "expires_at"}
        life = datetime.fromisoformat(token["expires_at"]) - datetime.fromisoformat(token["created_at"])
        assert life == timedelta(days=days)
    assert api.post("/auth/tokens", {"role": "member", "subject_id": default["subject_id"], "name": "x",
                                     "expires_in_days": 0}, api.admin).status_code == 422


def test_the_operator_lists_tokens_without_their_secrets(api):
    token = mint(api)

    listed = api.ok(api.get("/auth/tokens", api.admin))

    mine = [t for t in listed["items"] if t["id"] == token["id"]]
    assert [set(t) for t in listed["items"]] == [LISTED] * listed["total"]
    assert mine == [{**{k: token[k] for k in LISTED - {"revoked_at", "revoke_reason"}}, "revoked_at": None,
                     "revoke_reason": None}]
    assert token["token"] not in str(listed)
    assert api.client.get("/auth/tokens", headers=as_bearer(token)).status_code == 403
    assert api.get("/auth/tokens").status_code == 401


def test_a_revoked_token_is_refused_on_every_process_within_a_second(two_processes):
    a, b = two_processes
    token = mint(a)
    assert a.client.get("/bookings", headers=as_bearer(token)).status_code == 200
    assert b.client.get("/bookings", headers=as_bearer(token)).status_code == 200

    revoked = a.ok(a.post(f"/auth/tokens/{token['id']}/actions/revoke", {"reason": "手机丢失"}, a.admin))
    time.sleep(1.05)

    assert (revoked["id"], revoked["revoke_reason"]) == (token["id"], "手机丢失") and revoked["revoked_at"]
    for process in (a, b):
        refused = process.client.get("/bookings", headers=as_bearer(token))
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"], refused.text
    assert a.post(f"/auth/tokens/{token['id']}/actions/revoke", {}, a.admin).status_code == 422
    assert a.post("/auth/tokens/no-such-token/actions/revoke", {"reason": "x"}, a.admin).status_code == 404


def test_an_expired_token_is_refused_on_every_process_within_a_second(two_processes):
    a, b = two_processes
    token = mint(a, expires_in_days=1)
    assert b.client.get("/bookings", headers=as_bearer(token)).status_code == 200

    with a.system.db.transaction() as tx:  # a day goes by
        tx.execute("UPDATE tokens SET expires_at = %s WHERE id = %s",
                   ((datetime.now(UTC) - timedelta(seconds=1)).isoformat(), token["id"]))
    time.sleep(1.05)

    for process in (a, b):
        assert process.client.get("/bookings", headers=as_bearer(token)).status_code == 401


@pytest.mark.parametrize("role, subject", [
    pytest.param("admin", "system", id="admin-as-system"),
    pytest.param("auditor", "system", id="auditor-as-system"),
    pytest.param("admin", "审计 组", id="admin-not-plain"),
    pytest.param("system", "system", id="role-system"),
    pytest.param("member", "not-a-member", id="member-unknown"),
    pytest.param("org", "grid", id="org-names-a-grid"),
])
def test_subjects_are_checked_per_role(api, role, subject):
    subject = api.grid() if subject == "grid" else subject

    response = api.post("/auth/tokens", {"role": role, "subject_id": subject, "name": "x"}, api.admin)

    assert response.status_code == 422, response.text


def test_resolving_a_token_again_within_a_second_asks_the_database_nothing(api, monkeypatch):
    token = mint(api)
    store = api.system.tokens
    lookups = []
    rows = store.db.rows
    monkeypatch.setattr(store, "db", type("Counting", (), {
        "rows": lambda self, sql, params=(): (lookups.append(sql) if "WHERE hash" in sql else None) or rows(sql, params),
        "transaction": lambda self, *a, **k: api.system.db.transaction(*a, **k)})())

    for _ in range(20):
        assert api.client.get("/bookings", headers=as_bearer(token)).status_code == 200

    assert len(lookups) == 1


def test_the_cli_lists_and_revokes_tokens(api, monkeypatch):
    token = mint(api)
    monkeypatch.setattr(cli, "_system", lambda: Unclosed(api.system))
    runner = CliRunner()

    listed = runner.invoke(cli.app, ["tokens", "list"])
    revoked = runner.invoke(cli.app, ["tokens", "revoke", token["id"], "--reason", "离职"])

    assert listed.exit_code == 0 and token["id"][:8] in listed.output and token["token"] not in listed.output
    assert revoked.exit_code == 0, revoked.output
    assert api.client.get("/bookings", headers=as_bearer(token)).status_code == 401
